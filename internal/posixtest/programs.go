package posixtest

// The real-program differential scripts: each runs with its shell's -ec
// in a directory named by $D (its working directory too), natively on a
// kernel tmpfs for the reference and in the filesystem under test, whose
// outputs (stdout then stderr) must be equal once the directory's path is
// written $D. Nothing else is masked; a script prints only what both
// filesystems must agree on (no inode numbers, st_dev, atimes or ctimes,
// which legitimately differ), and pins every time it prints with touch or
// the program's own date variables.

// Program is one real-program script.
type Program struct {
	Name  string
	Shell string   // sh, or bash for bash's own syntax
	Needs []string // the commands it needs besides the shell
	// Script is the script, without the cd to $D (the runner's).
	Script string
}

// Programs are the scripts of the programs people run in a filesystem,
// each with what it needs.
var Programs = []Program{
	{"coreutils", "sh", []string{"timeout"}, coreutilsScript},
	{"redirections", "sh", nil, redirectScript},
	{"bash", "bash", nil, bashScript},
	{"stdio_identity", "sh", []string{"timeout"}, stdioScript},
	{"tar", "sh", []string{"tar", "gzip", "sha256sum"}, tarScript},
	{"git", "sh", []string{"git"}, gitScript},
	{"python3", "sh", []string{"python3"}, pythonScript},
	{"sqlite3", "sh", []string{"sqlite3"}, sqliteScript},
	{"gcc", "sh", []string{"gcc", "ar"}, gccScript},
}

// ProgramByName finds a script of Programs.
func ProgramByName(name string) (Program, bool) {
	for _, p := range Programs {
		if p.Name == name {
			return p, true
		}
	}
	return Program{}, false
}

// coreutilsScript runs the coreutils the issue names (ls -l, du, stat,
// find, cp -r/-a, mv) and more (sed -i, install, mktemp, sort -o, dd,
// touch -r, ln -sr, readlink -f, chmod -R, split, truncate) over a tree
// whose times are pinned. du -l counts both names of the hard link: which
// one du keeps otherwise depends on readdir order, which differs.
const coreutilsScript = `
mkdir -p a/b/c; echo one > a/f; printf 'x%.0s' $(seq 1 5000) > a/b/big
ln -s f a/l; ln a/f a/h; mkfifo a/p
find a -exec touch -h -d @1500000000 {} +
ls -lA --time-style=+%s a | tail -n +2
ls -lAR --time-style=+%s a | grep -v '^total' | awk '{print $1, $2, $5, $6, $7, $8, $9}'
du -al --apparent-size -b a | sort -k2
du -sh --apparent-size a
stat -c '%n %f %a %h %s %b %B %Y %N' a/f a/l a/b a/p
find a -printf '%p %y %m %n %s %Y %l %T@\n' | sort
cp -a a c; find c -printf '%p %y %m %n %s %T@ %l\n' | sort
cp -r a d; cp a/f e; cp --preserve=all a/f e2; stat -c '%a %Y' e2
mv d/f d/g; mv d/b .; ls d b
sed -i 's/one/uno/' a/f; cat a/f a/h; stat -c %h a/f
install -m 755 a/f bin; stat -c %a bin
t=$(mktemp -p .); test -f "$t" && echo mktemp; rm "$t"
sort -r -o c/f c/f; dd if=/dev/zero of=a/b/big bs=1 count=10 seek=2 conv=notrunc status=none; wc -c a/b/big
touch -r a/f c/f; [ "$(stat -c %Y a/f)" = "$(stat -c %Y c/f)" ] && echo touch-r
ln -sr a/b/big rel; readlink rel; readlink -f rel | sed "s|$D|D|"; realpath a/l | sed "s|$D|D|"
chmod -R g+w c; stat -c %a c c/b c/f
split -b 1000 a/b/big part.; ls part.* | wc -l; cat part.* | cmp - a/b/big && echo split-ok
truncate -s 100 a/f; stat -c %s a/f; truncate -s -50 a/f; stat -c %s a/f
rm -rf c; ls
`

// redirectScript is the shell's side: every redirection form of sh, whose
// descriptors are served files dup2()ed into place.
const redirectScript = `
echo hi 2> err >&2; cat err
{ echo out; echo err >&2; } > both 2>&1; cat both
{ echo out; echo err >&2; } 2> e1 >> o1; cat e1 o1
exec 4<> rw; echo abc >&4; exec 4>&-; cat rw
cat <<X > here
here doc $((1+2))
X
cat here
set -C; (echo no > here) 2>/dev/null || echo noclobber; echo yes >| here; set +C; cat here
echo tee | tee t1 t2 > /dev/null; cat t1 t2
ls > listing; grep -c . listing
seq 1 1000 > big; cat here > /dev/null < big; head -c 3 < big; echo; tail -n 1 < big
cat big >> big || echo "cat refused"; wc -l < big
echo 123 > d1; exec 5< d1; exec 6<&5; read -r v <&6; echo "$v"; exec 5<&- 6<&-
while read -r l; do echo "r:$l"; done < both
`

// bashScript adds bash's own redirections and expansions.
const bashScript = `
echo out &> both; echo err >&2 &>> both; cat both
cat <<< "here string" > hs; cat hs
diff <(sort both) <(sort both) && echo procsubst
exec {fd}> named; echo "to named" >&$fd; exec {fd}>&-; cat named
printf '%s\n' 3 1 2 > nums; mapfile -t arr < nums; echo "${arr[@]}"
echo x >> nums; read -r first < nums; echo "$first"; wc -l < nums
shopt -s globstar; mkdir -p g/h/i; touch g/h/i/j g/k; echo g/**
`

// tarScript archives a generated tree, compares the archive byte for byte
// (GNU format: names, modes, owners, sizes, mtimes, link targets; no inode
// numbers) and extracts it twice.
const tarScript = `
mkdir -p src/a/b src/c src/empty
for i in $(seq 1 40); do echo "line $i" > src/a/f$i; done
head -c 300000 /dev/zero | tr '\0' x > src/a/b/big
printf 'sparse' | dd of=src/a/b/sparse bs=1 seek=1000000 status=none
ln -s ../a/f1 src/c/link
ln src/a/f2 src/c/hard
mkfifo src/c/fifo
chmod 640 src/a/f3; chmod 700 src/c
find src -depth -exec touch -h -d @1500000000 {} +
tar cf t.tar --sort=name src
sha256sum t.tar
tar tvf t.tar | sort -k6
mkdir x && tar xpf t.tar -C x
diff -r --no-dereference src x/src && echo same-tree
find x/src -printf '%p %y %m %s %n %T@ %l\n' | sort
tar cf - src | (mkdir y && cd y && tar xf -)
cmp src/a/b/big y/src/a/b/big && echo same-big
tar czf t.tgz src && tar tzf t.tgz | sort | tail -3
rm -r x y t.tar && ls
`

// gitScript makes a repository, commits twice, packs it and checks it. The
// author and committer, their dates and HOME are pinned, so object ids are
// the same everywhere.
const gitScript = `
export HOME="$D/home" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=A GIT_AUTHOR_EMAIL=a@example.org \
	GIT_COMMITTER_NAME=C GIT_COMMITTER_EMAIL=c@example.org \
	GIT_AUTHOR_DATE='1500000000 +0000' GIT_COMMITTER_DATE='1500000000 +0000'
mkdir home repo && cd repo
git init -q -b main .
echo hello > a; mkdir d; echo x > d/b; printf '#!/bin/sh\necho run\n' > d/x.sh; chmod +x d/x.sh
ln -s a l
git add a d l
git status --porcelain
git commit -q -m first
git rev-parse HEAD
echo more >> a; git mv d/b d/c
git status --porcelain
git diff --stat
git commit -qam second
git log --format='%H %an %cn %ad %s' --date=raw
git cat-file -p HEAD
git cat-file -p 'HEAD^{tree}'
git ls-tree -r HEAD
git checkout -q -b feature HEAD~1 && cat a && ls d && git checkout -q main
git gc -q && git count-objects -v | grep -v size
git fsck --strict --no-progress && echo fsck-ok
git status --porcelain && echo clean
cd .. && git clone -q repo clone && git -C clone log --oneline && ./clone/d/x.sh
`

// pythonScript does file I/O from Python (mmap included), from 8 threads at
// once, and imports a package stored in the mount twice: the first import
// writes __pycache__, the second reads it.
const pythonScript = `
unset PYTHONDONTWRITEBYTECODE
mkdir pkg && touch pkg/__init__.py
printf 'def double(x):\n    return 2 * x\n' > pkg/mod.py
touch -d @1500000000 pkg/mod.py
cat > io.py <<'EOF'
import json, os, shutil, sys
sys.path.insert(0, os.getcwd())
import pkg.mod
print("double", pkg.mod.double(21))
with open("data.txt", "w") as f:
    for i in range(1000):
        f.write("line %d\n" % i)
with open("data.txt", "a") as f:
    f.write("end\n")
with open("data.txt") as f:
    lines = f.readlines()
print(len(lines), lines[-1].strip(), os.path.getsize("data.txt"))
os.rename("data.txt", "d2.txt")
os.makedirs("t/u/v")
with open("t/u/v/j.json", "w") as f:
    json.dump({"k": list(range(5))}, f)
print(json.load(open("t/u/v/j.json")))
shutil.copytree("t", "t2")
print(sorted((r, sorted(ds), sorted(fs)) for r, ds, fs in os.walk("t2")))
shutil.rmtree("t")
with open("sparse", "wb") as f:
    f.seek(1 << 20)
    f.write(b"x")
st = os.stat("sparse")
print(st.st_size, oct(st.st_mode & 0o7777))
fd = os.open("rw", os.O_RDWR | os.O_CREAT, 0o600)
os.pwrite(fd, b"hello world", 0)
os.ftruncate(fd, 5)
print(os.pread(fd, 100, 0), os.fstat(fd).st_size)
os.close(fd)
import mmap
with open("rw", "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    m[0:5] = b"HELLO"
    m.close()
print(open("rw", "rb").read())
print(sorted(os.listdir(".")))
EOF
cat > threads.py <<'EOF'
import os, threading
os.mkdir("th")
errors = []
def work(n):
    try:
        for i in range(25):
            p = "th/%d-%d" % (n, i)
            with open(p, "w") as f:
                f.write(str(n) * (i + 1))
            with open(p) as f:
                assert f.read() == str(n) * (i + 1), p
            os.rename(p, p + ".done")
            if i % 2:
                os.unlink(p + ".done")
            with open("th/shared", "a") as f:
                f.write("%d %d\n" % (n, i))
    except Exception as e:
        errors.append(repr(e))
ts = [threading.Thread(target=work, args=(n,)) for n in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print("errors", errors)
print(len(os.listdir("th")), sorted(open("th/shared").read().splitlines()) == sorted("%d %d" % (n, i) for n in range(8) for i in range(25)))
EOF
python3 io.py
python3 threads.py
python3 -c 'import os, sys; sys.path.insert(0, os.getcwd()); import pkg.mod; print(pkg.mod.__cached__.rsplit("/", 1)[0], pkg.mod.double(2))'
ls pkg/__pycache__ | sed 's/cpython-[0-9]*/cpython-N/'
`

// sqliteScript fills a table inside one transaction and with autocommit
// inserts (rollback journal), then in WAL mode (a shared-memory index that
// sqlite mmaps), and checks the database.
const sqliteScript = `
seq 1 1000 | sed 's/.*/INSERT INTO t(v, n) VALUES ("row&", &);/' > ins.sql
sqlite3 db <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, n INTEGER);
BEGIN;
.read ins.sql
COMMIT;
EOF
for i in 1 2 3 4 5 6 7 8 9 10; do sqlite3 db "INSERT INTO t(v, n) VALUES ('auto$i', $i)"; done
sqlite3 db 'SELECT count(*), sum(n) FROM t; PRAGMA integrity_check;'
sqlite3 db "UPDATE t SET n = n * 2 WHERE id % 3 = 0; DELETE FROM t WHERE id % 7 = 0; VACUUM;"
sqlite3 db 'SELECT count(*), sum(n), max(v) FROM t; PRAGMA integrity_check;'
sqlite3 wal 'PRAGMA journal_mode=WAL; CREATE TABLE w(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 5000) INSERT INTO w SELECT i FROM c;'
for i in 1 2 3; do sqlite3 wal "INSERT INTO w VALUES ($i)"; done
sqlite3 wal 'SELECT count(*), sum(x) FROM w; PRAGMA wal_checkpoint(TRUNCATE); PRAGMA integrity_check;'
ls
`

// gccScript compiles and links a program from two sources, a static
// archive and a shared library, all in the mount, and runs the programs
// from the mount (execve of a file in the mount; the loader mmaps the
// library PROT_EXEC from it).
const gccScript = `
export TMPDIR="$D/tmp"; mkdir tmp
cat > main.c <<'EOF'
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
int twice(int);
int main(int argc, char **argv) {
	int fd = open("out.txt", O_CREAT | O_TRUNC | O_RDWR, 0644);
	if (fd < 0) { perror("open"); return 1; }
	char buf[64];
	int n = snprintf(buf, sizeof buf, "twice %d argc %d\n", twice(21), argc);
	if (write(fd, buf, n) != n) { perror("write"); return 1; }
	struct stat st;
	if (fstat(fd, &st) < 0) { perror("fstat"); return 1; }
	memset(buf, 0, sizeof buf);
	if (pread(fd, buf, sizeof buf - 1, 0) != n) { perror("pread"); return 1; }
	close(fd);
	printf("%s size %lld\n", buf, (long long)st.st_size);
	return 0;
}
EOF
echo 'int twice(int x) { return 2 * x; }' > twice.c
gcc -O1 -o hello main.c twice.c
./hello a b
"$D/hello"
cat out.txt
gcc -c main.c -o main.o && gcc -c -fPIC twice.c -o twice.o
ar rcs libtwice.a twice.o && gcc -o static main.o -L. -ltwice && ./static
gcc -shared -o libtw.so twice.o && gcc -o dyn main.o -L. -ltw -Wl,-rpath,"$D" && ./dyn x
sha256sum twice.o libtwice.a | sed 's/ .*//'
rm -r tmp && ls
`

// stdioScript checks what programs learn from fstat on a standard
// descriptor that the shell dup2()ed from a file in the mount: it must be
// the file's identity as a path stat shows it (cat refuses to append a file
// to itself by comparing the two; before the fix it filled the filesystem).
const stdioScript = `
echo a > f
timeout 10 cat f >> f || echo "cat refused: $?"
wc -c < f
[ "$(stat -c '%d %i %s' - < f)" = "$(stat -c '%d %i %s' f)" ] && echo "stdin is f"
exec 3>>f; echo b >&3; exec 3>&-; cat f
`
