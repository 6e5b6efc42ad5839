#!/usr/bin/env bash
# Launch pilewright on Google Cloud Dataflow. Run from the repository root with the gcp extra installed
# (`pip install -e '.[gcp]'`) and `gcloud auth application-default login` done.
# Usage: examples/dataflow/run.sh PROJECT REGION BUCKET [CONFIG]
set -euo pipefail
PROJECT=$1 REGION=$2 BUCKET=$3 CONFIG=${4:-}

# 1. the wheel the workers install (modules + the lid.176 model + the embedded sample as package data)
python -m build --wheel --outdir dist .
WHEEL=$(ls -t dist/pilewright-*.whl | head -1)

# 2. check the job offline first: builds, pickles and validates the whole job graph, no cloud call
pilewright run ${CONFIG:+--config "$CONFIG"} --output "gs://$BUCKET/pilewright/out" \
  --runner=DataflowRunner --dry_run=True \
  --project="$PROJECT" --region="$REGION" --temp_location="gs://$BUCKET/pilewright/tmp" \
  --extra_package="$WHEEL"

# 3. the real job; --max_num_workers caps the autoscaling (and the bill)
pilewright run ${CONFIG:+--config "$CONFIG"} --output "gs://$BUCKET/pilewright/out" \
  --runner=DataflowRunner \
  --project="$PROJECT" --region="$REGION" \
  --temp_location="gs://$BUCKET/pilewright/tmp" \
  --extra_package="$WHEEL" \
  --max_num_workers=32 --machine_type=n2-standard-4 \
  --experiments=use_runner_v2
