// The e2e livepatch (harness/livepatch.ts; the kbuild tier's kernel and Debian's 6.1 cloud kernel): replaces the
// one copy of a duplicated vmlinux or module function that `ksymtree klp funcs` names. NEW_FUNC (the replacement's
// name) and klp-funcs.h (its klp_func/klp_object arrays, with old_sympos) come from `ksymtree klp funcs ALIAS`, as a
// livepatch author would paste them; replacement.h (one of kbuild/replacement-*.h) defines NEW_FUNC.
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>

#include "replacement.h"
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
