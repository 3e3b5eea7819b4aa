#!/bin/bash
# Runs a laminar experiment as Slurm job arrays: the extraction split over N tasks (each loads
# the model and runs one N-th of the stimuli), one job that merges their shards, the analyses
# split over M tasks, and a last job that merges them and writes the report page. Each job
# starts when the one before it succeeded (afterok): a failed shard stops the chain, and
# `laminar merge` names any shard that is missing or stale.
#
#   tools/slurm/submit.sh EXPERIMENT.yaml N M [laminar run options, e.g. --out runs/x.h5 --model ID=PATH]
#
# Resources come from the environment as sbatch reads it (SBATCH_PARTITION, SBATCH_ACCOUNT,
# SBATCH_TIMELIMIT, ...) or from LAMINAR_SBATCH_EXTRACT / LAMINAR_SBATCH_ANALYZE (extra sbatch
# options for each array, e.g. "--gres=gpu:1 --mem=64G" and "--cpus-per-task=16").
# LAMINAR is the laminar executable (default: the one on PATH).
set -euo pipefail

if [ $# -lt 3 ]; then
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
experiment=$1 extract_tasks=$2 analyze_tasks=$3
shift 3
laminar=${LAMINAR:-laminar}
# The run options, quoted once for the shell each job runs its command in.
options=$(printf ' %q' "$@")
exp=$(printf '%q' "$experiment")

submit() { sbatch --parsable "$@"; }
extract=$(submit --job-name=laminar-extract --array=0-$((extract_tasks - 1)) ${LAMINAR_SBATCH_EXTRACT:-} \
    --wrap="$laminar run $exp$options --shard \${SLURM_ARRAY_TASK_ID}/$extract_tasks")
# A plain run of the extract stage finds the complete set of shards and merges it (as
# `laminar merge RUN.h5` does), checking that they are of this experiment as it is now.
merged=$(submit --job-name=laminar-merge --dependency=afterok:$extract --wrap="$laminar run $exp$options --stage extract")
analyze=$(submit --job-name=laminar-analyze --dependency=afterok:$merged --array=0-$((analyze_tasks - 1)) ${LAMINAR_SBATCH_ANALYZE:-} \
    --wrap="$laminar run $exp$options --shard \${SLURM_ARRAY_TASK_ID}/$analyze_tasks")
report=$(submit --job-name=laminar-report --dependency=afterok:$analyze --wrap="$laminar run $exp$options")
echo "submitted: extract $extract (array of $extract_tasks), merge $merged, analyze $analyze (array of $analyze_tasks), report $report"
