// The e2e livepatch of a duplicated function in a module (klp-boot-module-6.1-cloud.test.ts): replaces one copy of
// virtio_pci's vp_get_status, the config op behind /sys/bus/virtio/devices/virtioN/status. Built as
// livepatch-ksymtree.c with NEW_FUNC and klp-funcs.h from `ksymtree klp funcs ALIAS` (harness/livepatch.ts).
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/virtio.h>

/* what status_show prints as 0x0000005a for a device served by the replaced copy */
static u8 NEW_FUNC(struct virtio_device *vdev)
{
	return 0x5a;
}

#include "klp-funcs.h"

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int livepatch_ksymtree_init(void)
{
	return klp_enable_patch(&patch);
}

static void livepatch_ksymtree_exit(void)
{
}

module_init(livepatch_ksymtree_init);
module_exit(livepatch_ksymtree_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
