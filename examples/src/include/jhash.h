/* A header static, like include/linux/jhash.h: every unit that uses it gets its own out-of-line copy. */
#ifndef EXAMPLE_JHASH_H
#define EXAMPLE_JHASH_H
static __attribute__((noinline)) unsigned int jhash(const void *key, unsigned int length, unsigned int initval)
{
	const unsigned char *k = key;
	unsigned int h = initval;
	while (length--)
		h = (h << 5) + h + *k++;
	return h;
}
#endif
