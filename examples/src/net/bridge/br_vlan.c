#include <jhash.h>
#include <module.h>

static unsigned int salt __attribute__((used));

unsigned int br_vlan_hash(const unsigned short *vid)
{
	return jhash(vid, 2, salt);
}
EXPORT_SYMBOL_GPL(br_vlan_hash);

static int __init br_init(void)
{
	return 0;
}

MODULE_INFO(name, "bridge");
MODULE_INFO(depends, "stp,llc");
MODULE_INFO(vermagic, "6.1.0-example SMP mod_unload");
