#include <module.h>

/* Also defined once in bridge's units: a clash between objects, which needs no alias. */
static unsigned int salt __attribute__((used)) = 7;

int demo_probe(void)
{
	return (int)salt;
}

MODULE_INFO(name, "demo");
MODULE_INFO(vermagic, "6.1.0-example SMP mod_unload");
