/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * spank_vrdma: the Slurm side of vrdma's batch integration. It adds one
 * option to srun, sbatch and salloc:
 *
 *   --vrdma[=GUESTS]   GUESTS namespace guests per node (1 to 8, default
 *                      1), on the node's vrdma switch, for the job
 *
 * and passes it to the two places that act on it:
 * - the job's prolog and epilog (vrdma slurm prolog|epilog, run as root by
 *   slurmd on every allocated node), as SPANK_VRDMA=GUESTS in their
 *   environment (Slurm's job control environment): the prolog brings the
 *   node's switch up and attaches the guests before the job starts, the
 *   epilog removes them after it, also when it failed or was cancelled;
 * - the job's tasks, as VRDMA_JOB_DIR, VRDMA_HOSTFILE and VRDMA_RUN (the
 *   files the prolog writes: the guests' addresses, and a command that runs
 *   its arguments in the node's first guest of the job, set up for Open
 *   MPI across the job's guests).
 *
 * plugstack.conf: required /PATH/spank_vrdma.so [rundir=/run/vrdma/slurm]
 * (`vrdma slurm conf` writes it). Nothing here touches the switch: the
 * work is the prolog's, which is a program an operator can run by hand.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <slurm/spank.h>

SPANK_PLUGIN(vrdma, 1);

#define GUESTS_MAX     8
#define RUNDIR_DEFAULT "/run/vrdma/slurm"

static int guests; /* 0: the job did not ask */
static char rundir[256] = RUNDIR_DEFAULT;

static int
opt_vrdma(int val, const char *optarg, int remote)
{
	char *end;
	long n = 1;

	(void)val;
	(void)remote;
	if (optarg != NULL && optarg[0] != '\0') {
		errno = 0;
		n = strtol(optarg, &end, 10);
		if (errno != 0 || *end != '\0' || n < 1 || n > GUESTS_MAX) {
			slurm_error("--vrdma=%s: expected a number of guests "
				    "per node from 1 to %d (e.g. --vrdma=2)",
				    optarg, GUESTS_MAX);
			return -1;
		}
	}
	guests = (int)n;
	return 0;
}

/* Registered, not exported as spank_options: sbatch and salloc take
 * only registered options (spank.h). */
static struct spank_option vrdma_option = {
	"vrdma",
	"[GUESTS]",
	"attach GUESTS (1-8, default 1) namespace guests per node to the "
	"node's vrdma switch before the job starts, removed after it; "
	"$VRDMA_HOSTFILE lists them, \"$VRDMA_RUN\" CMD runs CMD in the "
	"node's first one",
	2,
	0,
	opt_vrdma};

/* Plugin arguments from plugstack.conf: rundir=DIR. */
static int
parse_args(int ac, char **av)
{
	int i;

	for (i = 0; i < ac; i++) {
		if (strncmp(av[i], "rundir=", 7) == 0 && av[i][7] == '/' &&
		    strlen(av[i] + 7) < sizeof(rundir)) {
			strcpy(rundir, av[i] + 7);
			continue;
		}
		slurm_error("spank_vrdma: unknown or bad argument '%s' in "
			    "plugstack.conf (known: rundir=/ABSOLUTE/DIR)",
			    av[i]);
		return -1;
	}
	return 0;
}

int
slurm_spank_init(spank_t sp, int ac, char **av)
{
	if (parse_args(ac, av) != 0)
		return -1;
	if (spank_option_register(sp, &vrdma_option) != ESPANK_SUCCESS) {
		slurm_error("spank_vrdma: cannot register --vrdma");
		return -1;
	}
	return 0;
}

/* srun, sbatch, salloc: the option for the prolog and epilog. */
int
slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
	spank_context_t ctx = spank_context();
	char buf[16];

	(void)ac;
	(void)av;
	if (guests == 0 || (ctx != S_CTX_LOCAL && ctx != S_CTX_ALLOCATOR))
		return 0;
	snprintf(buf, sizeof(buf), "%d", guests);
	if (spank_job_control_setenv(sp, "VRDMA", buf, 1) != ESPANK_SUCCESS) {
		slurm_error("spank_vrdma: cannot pass --vrdma to the prolog");
		return -1;
	}
	return 0;
}

/* slurmstepd, before the tasks start: where the prolog's files are. */
int
slurm_spank_user_init(spank_t sp, int ac, char **av)
{
	static const struct {
		const char *var, *file;
	} files[] = {
		{"VRDMA_JOB_DIR", ""},
		{"VRDMA_HOSTFILE", "/hostfile"},
		{"VRDMA_RUN", "/run"},
	};
	char path[sizeof(rundir) + 32];
	uint32_t job;
	size_t i;

	(void)ac;
	(void)av;
	if (guests == 0 || spank_remote(sp) != 1)
		return 0;
	if (spank_get_item(sp, S_JOB_ID, &job) != ESPANK_SUCCESS)
		return -1;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%u%s", rundir, job,
			 files[i].file);
		if (spank_setenv(sp, files[i].var, path, 1) != ESPANK_SUCCESS)
			return -1;
	}
	return 0;
}
