extern int irq_show(char *buf);
extern int class_show(char *buf);

static int show_count __attribute__((used));

void start(void)
{
	char buf[1] = { 0 };
	show_count = irq_show(buf) + class_show(buf);
	for (;;)
		;
}
