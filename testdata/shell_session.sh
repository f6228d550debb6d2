# A shell session whose output must be byte-identical on any POSIX
# filesystem. Run with bash, the working directory being the (empty)
# directory under test; internal/e2e runs it on tmpfs and on btfuse and
# diffs. Only relative paths, so error messages match; nothing printed
# depends on inode numbers, devices or the clock (times shown are set with
# touch -d first).
set -u
export LC_ALL=C TZ=UTC
umask 022

step() { printf '\n== %s\n' "$*"; }
status() { echo "-> status $?"; }
lsl() { ls -l --time-style=+%Y-%m-%dT%H:%M:%S "$@"; }

step mkdir
mkdir -p a/b/c d/e
mkdir a 2>&1; status
mkdir -p a/b; status
mkdir x/y 2>&1; status
ls -1
stat -c '%n %F %a %h' a a/b a/b/c d

step redirections
echo hello > a/f
echo world >> a/f
printf 'no newline' > a/g
cat a/f a/g; echo
wc -c a/f a/g
: > a/empty
stat -c '%n %s' a/empty
echo overwrite > a/g
cat a/g
exec 3>> a/log
for i in 1 2 3; do echo "line $i" >&3; done
exec 3>&-
cat a/log
tail -n 1 a/log
head -c 7 a/log; echo

step truncate
truncate -s 3 a/f; cat a/f; echo
truncate -s 10000 a/f
stat -c '%n %s %b %F' a/f
od -An -c -N 8 a/f
truncate -s 5G a/f
stat -c '%n %s %b' a/f
truncate -s 0 a/f
stat -c '%n %s %b' a/f
truncate -s 1K a/nonexistent-grows
stat -c '%n %s' a/nonexistent-grows

step links
ln -s g a/sym
ln -s ../d a/dsym
ln -s missing a/dangling
ln a/g a/hard
readlink a/sym a/dsym a/dangling
stat -c '%n %h %F %s' a/g a/hard a/sym
cat a/sym
ls -1 a/dsym/
cat a/dangling 2>&1; status
ln a/g a/hard 2>&1; status
ln a/b a/bhard 2>&1; status
ln -sf f a/sym; readlink a/sym

step mv
mv a/log a/b/moved
mv a/b/c d/
mv d/e d/c/e
mv a/hard a/g 2>&1; status
stat -c '%n %h' a/g
mv a a/b/x 2>&1; status
mv missing y 2>&1; status
ls -1 a a/b d d/c

step chmod
chmod 640 a/g; stat -c '%n %a %A' a/g
chmod u+x,g+s a/g; stat -c '%n %a %A' a/g
chmod 4755 a/b/moved; stat -c '%n %a %A' a/b/moved
chmod a-w d/c; stat -c '%n %a %A' d/c
chmod -R go-rwx d; stat -c '%n %a' d d/c d/c/e
chmod 1777 a/b; stat -c '%n %a %A' a/b
chmod 000 a/empty; stat -c '%n %a %A' a/empty
chmod 644 a/empty

step cp of a few MiB
python3 -c '
import random, sys
random.seed(20240601)
sys.stdout.buffer.write(random.randbytes(3 * 1024 * 1024 + 17))
' > big
cp big big2
cmp big big2 && echo identical
sha256sum big big2
cp -r a a2
cp -p a/g a2/g-preserved
stat -c '%n %s %a' a2/g a2/g-preserved
cat big big > big3; stat -c '%n %s' big3
dd if=big of=part bs=4096 skip=10 count=3 status=none
sha256sum part

step pread and pwrite
python3 - <<'PY'
import os
fd = os.open("big2", os.O_RDWR)
os.pwrite(fd, b"HELLO", 1 << 20)
print(os.pread(fd, 9, (1 << 20) - 2))
os.pwrite(fd, b"tail", 5 << 30)
print("size", os.fstat(fd).st_size)
print(os.pread(fd, 6, (5 << 30) - 1))
print(os.pread(fd, 4, 4 << 30))
os.ftruncate(fd, 3 << 20)
print("size", os.fstat(fd).st_size)
os.close(fd)
fd = os.open("fresh", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.pwrite(fd, b"x", 100000)
print(os.fstat(fd).st_size, oct(os.fstat(fd).st_mode))
os.close(fd)
try:
    os.open("fresh", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
except OSError as e:
    print("O_EXCL:", e.strerror)
PY
sha256sum big2 fresh

step sed and friends
printf 'alpha\nbeta\ngamma\n' > words
sed -i 's/beta/BETA/' words
cat words
sort -r words > sorted; cat sorted
grep -c a words
tr a-z A-Z < words | tee upper
sha256sum words sorted upper

step touch and ls -l
touch -d '2001-02-03 04:05:06' a/g a/empty a/b/moved
touch -d '@1234567890' big
touch -h -d '2010-10-10 10:10:10' a/sym a/dangling
touch -m -d '1999-12-31 23:59:59' a/f
touch -a -d '2020-02-02 02:02:02' a/f
lsl a/g a/empty a/b/moved big a/sym a/dangling a/f
stat -c '%n %x %y' a/f a/g
touch newfile; stat -c '%n %s' newfile

step errors
rmdir a 2>&1; status
rmdir a/b/moved 2>&1; status
cat missing 2>&1; status
mkdir d 2>&1; status
rm a/b 2>&1; status
rm missing 2>&1; status
cd a/g 2>&1; status
ls missing 2>&1; status
touch a/g/x 2>&1; status
mkdir "$(printf 'n%.0s' {1..256})" 2>&1 | sed 's/n\{256\}/<256 n>/'; echo "-> status ${PIPESTATUS[0]}"
mkdir "$(printf 'n%.0s' {1..255})"; status
ls | grep -c '^n*$'

step rm
rm -r a2
rm big big3
rm -f missing; status
rm -r d
rmdir "$(printf 'n%.0s' {1..255})"
find . | sort
find . -type f | sort | xargs sha256sum
find . -type l | sort | xargs stat -c '%n -> %N'

step end
ls -la --time-style=+%s a | awk '$1 != "total" {print $1, $2, $7, $8, $9}'
