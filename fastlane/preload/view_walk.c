/* view_walk.c: the metadata view's reader (view.h): the path walk over its
 * dentry hash and its inode slots, as fsimpl's walker does it, bounded
 * everywhere. The calls that use it are in view.c.
 *
 * Every index is checked against the header's counts, every chain walk
 * against the number of entries, every symlink splice against its
 * buffer: a read torn by the writer may give any values, and must still
 * stay inside the mapping and end. The caller retries or passes when the
 * sequence moved. */
#define _GNU_SOURCE
#include "view_int.h"

int flv_vb_init(struct vb *b)
{
	b->v = flc_view;
	b->size = flc_view_size;
	b->slots = v32(b->v, FLV_HDR_SLOTS);
	b->buckets = v32(b->v, FLV_HDR_BUCKETS);
	b->dents = v32(b->v, FLV_HDR_DENTS);
	b->slots_off = v64(b->v, FLV_HDR_SLOTS_OFF);
	b->buck_off = v64(b->v, FLV_HDR_BUCK_OFF);
	b->dents_off = v64(b->v, FLV_HDR_DENTS_OFF);
	b->ibuckets = v32(b->v, FLV_HDR_IBUCKETS);
	b->ibuck_off = v64(b->v, FLV_HDR_IBUCK_OFF);
	return b->ibuckets != 0 && (b->ibuckets & (b->ibuckets - 1)) == 0 && b->ibuck_off >= FLV_HEADER_BYTES &&
	       b->ibuck_off + (uint64_t)b->ibuckets * 4 <= b->size && b->buckets != 0 && (b->buckets & (b->buckets - 1)) == 0 &&
	       b->slots_off >= FLV_HEADER_BYTES && b->slots_off + (uint64_t)b->slots * FLV_SLOT_SIZE <= b->size &&
	       b->buck_off >= FLV_HEADER_BYTES && b->buck_off + (uint64_t)b->buckets * 4 <= b->size &&
	       b->dents_off >= FLV_HEADER_BYTES && b->dents_off + (uint64_t)b->dents * FLV_DENT_SIZE <= b->size;
}

/* lookup returns the slot name names in directory dir, -1 for a miss, -2
 * for a chain longer than the writer ever makes (a torn read). */
static int32_t lookup(const struct vb *b, int32_t dir, const char *name, size_t len)
{
	size_t bo = b->buck_off + (size_t)(flv_hash(dir, name, len) & (b->buckets - 1)) * 4;
	int32_t d = (int32_t)v32(b->v, bo);
	for (uint32_t steps = 0; d >= 0; steps++) {
		if ((uint32_t)d >= b->dents || steps > b->dents)
			return -2;
		size_t o = b->dents_off + (size_t)d * FLV_DENT_SIZE;
		if ((int32_t)v32(b->v, o + FLV_DENT_DIR) == dir && v32(b->v, o + FLV_DENT_NAMELEN) == len &&
		    memcmp(b->v + o + FLV_DENT_NAME, name, len) == 0)
			return (int32_t)v32(b->v, o + FLV_DENT_CHILD);
		d = (int32_t)v32(b->v, o + FLV_DENT_NEXT);
	}
	return -1;
}

int32_t flv_slot_of_ino(const struct vb *b, uint64_t ino)
{
	int32_t s = (int32_t)v32(b->v, b->ibuck_off + (size_t)(ino & (b->ibuckets - 1)) * 4);
	for (uint32_t steps = 0; s >= 0 && steps <= b->slots; steps++) {
		size_t o = slot(b, s);
		if (!o)
			return -1;
		if (v64(b->v, o + FLV_INO_INO) == ino)
			return s;
		s = (int32_t)v32(b->v, o + FLV_INO_NEXT);
	}
	return -1;
}

long flv_now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

long flv_walk(const struct vb *b, uint64_t start, char *w, size_t pos, int follow, int32_t *out)
{
	int32_t root = (int32_t)v32(b->v, FLV_HDR_ROOT);
	int32_t cur = root;
	if (start && (cur = flv_slot_of_ino(b, start)) < 0)
		return FL_PASS;
	char *rest = w + pos;
	size_t n = strlen(rest);
	int slashed = n > 0 && rest[n - 1] == '/';
	int links = 0;
	long now = 0;
	for (;;) {
		while (*rest == '/')
			rest++;
		if (!*rest)
			break;
		char *e = strchrnul(rest, '/');
		size_t len = (size_t)(e - rest);
		const char *name = rest;
		rest = e;
		const char *t = rest;
		while (*t == '/')
			t++;
		int last = *t == '\0';
		size_t co = slot(b, cur);
		if (!co)
			return FL_PASS;
		uint32_t flags = v32(b->v, co + FLV_INO_FLAGS);
		if (!(flags & FLV_F_SEARCH_ALL) || (v32(b->v, co + FLV_INO_MODE) & S_IFMT) != S_IFDIR)
			return FL_PASS;
		if (len == 1 && name[0] == '.')
			continue;
		if (len == 2 && name[0] == '.' && name[1] == '.') {
			if (cur == root)
				return FL_PASS; /* leaves the filesystem: the kernel's */
			cur = (int32_t)v32(b->v, co + FLV_INO_PARENT);
			continue;
		}
		if (len > FLV_NAME_MAX)
			return FL_PASS;
		int32_t c = lookup(b, cur, name, len);
		if (c == -2 || (c < 0 && (flags & FLV_F_INCOMPLETE)))
			return FL_PASS;
		if (c < 0)
			return -ENOENT;
		size_t no = slot(b, c);
		if (!no || v64(b->v, no + FLV_INO_INO) == 0)
			return FL_PASS;
		uint32_t mode = v32(b->v, no + FLV_INO_MODE);
		if ((mode & S_IFMT) == S_IFLNK && (!last || follow || slashed)) {
			if (!now)
				now = flv_now_sec();
			uint32_t tl = v32(b->v, no + FLV_INO_TLEN);
			if (++links > FLV_MAX_LINKS || !(flags & FLV_F_FOLLOW_ALL) ||
			    !(v32(b->v, no + FLV_INO_FLAGS) & FLV_F_TARGET) || tl == 0 || tl > FLV_TARGET_MAX ||
			    (int64_t)v64(b->v, no + FLV_INO_LINKDUE) <= now + 1)
				return FL_PASS;
			const char *tg = b->v + no + FLV_INO_TARGET;
			if (tg[0] == '/')
				return FL_PASS;
			/* Splice the target in front of the rest: target "/" rest. */
			size_t at = (size_t)(rest - w);
			if (at < tl + 1 + 0)
				return FL_PASS;
			if (last && tg[tl - 1] == '/')
				slashed = 1;
			at -= tl + 1;
			memcpy(w + at, tg, tl);
			w[at + tl] = '/';
			if (memchr(w + at, '\0', tl))
				return FL_PASS; /* torn: a NUL in a target */
			rest = w + at;
			continue;
		}
		if (last) {
			if (slashed && (mode & S_IFMT) != S_IFDIR)
				return -ENOTDIR;
			cur = c;
			break;
		}
		if ((mode & S_IFMT) != S_IFDIR)
			return -ENOTDIR;
		cur = c;
	}
	size_t o = slot(b, cur);
	if (!o || v64(b->v, o + FLV_INO_INO) == 0)
		return FL_PASS;
	*out = cur;
	return 0;
}
