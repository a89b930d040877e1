/* A shared object that is not a fisbot plugin (no FISBOT_PLUGIN). */
int notaplugin_answer(void);

int notaplugin_answer(void)
{
	return 42;
}
