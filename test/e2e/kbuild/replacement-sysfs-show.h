// Replacement for a sysfs show function (livepatch-ksymtree.c; vmlinux's name_show and type_show copies): every
// file the patched copy serves reads "ksymtree-livepatched".
#include <linux/kobject.h>
#include <linux/sysfs.h>

/* the replaced copy is a sysfs show function: (kobject or device, attribute, buf), three pointers either way */
static ssize_t NEW_FUNC(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "ksymtree-livepatched\n");
}
