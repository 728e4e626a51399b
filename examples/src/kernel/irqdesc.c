/* Two files of the example "vmlinux" each define a static name_show, as kernel/irq and drivers/base do. */
static int __attribute__((noinline, used)) name_show(char *buf)
{
	return buf[0] + 1;
}

int irq_show(char *buf)
{
	return name_show(buf);
}
