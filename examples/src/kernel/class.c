static int __attribute__((noinline, used)) name_show(char *buf)
{
	return buf[0] + 2;
}

static int show_count __attribute__((used));

int class_show(char *buf)
{
	show_count++;
	return name_show(buf);
}
