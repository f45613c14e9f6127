/* toucan-sso: thin entry point; everything lives in the core library. */
#include <stdio.h>

#include "tsso_build.h"

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("toucan-sso %s\n", TSSO_VERSION);
	return 0;
}
