// The `berth` executable: docker's command line against berthd (see cli/cli.h).
#include "cli/cli.h"

int main(int argc, char** argv) { return berth::cli::Main(argc, argv); }
