/* Just enough of <linux/module.h> for the example modules: .modinfo strings, exports, init sections. */
#define __stringify_1(x) #x
#define __stringify(x) __stringify_1(x)
#define __cat2(a, b) a##b
#define __cat(a, b) __cat2(a, b)
#define MODULE_INFO(tag, info) \
	static const char __cat(__UNIQUE_ID_##tag, __LINE__)[] \
	__attribute__((section(".modinfo"), used, aligned(1))) = __stringify(tag) "=" info
#define __init __attribute__((section(".init.text"), used))
#define EXPORT_SYMBOL(sym) \
	extern typeof(sym) sym; \
	static void *const __ksymtab_##sym __attribute__((section("__ksymtab"), used)) = (void *)&sym
#define EXPORT_SYMBOL_GPL(sym) \
	extern typeof(sym) sym; \
	static void *const __ksymtab_##sym __attribute__((section("__ksymtab_gpl"), used)) = (void *)&sym
