#include <jhash.h>
#include <module.h>

static unsigned int salt __attribute__((used));

unsigned int br_fdb_hash(const unsigned char *addr)
{
	return jhash(addr, 6, salt);
}
EXPORT_SYMBOL(br_fdb_hash);
