package main

import "fmt"

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }

func toString(x any) string {
	switch v := x.(type) {
	case float64:
		return fmt.Sprintf("%d", int64(v))
	case string:
		return v
	}
	return fmt.Sprint(x)
}
