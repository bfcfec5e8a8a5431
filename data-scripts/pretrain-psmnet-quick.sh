#!/usr/bin/env bash
# Makes the shipped start weights of the quick study's PSMNet, models/psmnet-quick-pretrained/:
# the paper's SceneFlow step at laptop size. It generates the synthetic pretraining set
# (configs/synth-pretrain.toml: its own seed, never a study frame), trains on its dense exact
# disparity with the disparity loss in three stages (configs/psmnet-pretrain-quick.toml from the
# reference initialisation; configs/psmnet-pretrain-quick-stage2.toml from those weights with a
# fresh Adam at lower rates; configs/psmnet-pretrain-quick-half.toml: the same weights in the
# network with a 1/2-resolution cost volume, the quick study's), and writes the weights with a
# provenance.json: the command, configs, data seed, training time, the held-out metrics, the
# metrics of the frames the test re-checks (tests/pretrained.rs in crates/disparity), and a
# comparison with SGM on the quick study's val frames.
#
#   data-scripts/pretrain-psmnet-quick.sh [WORK]      (default WORK: runs/pretrain-quick)
#
# About 3 hours on a 2-core CPU (release build); FTF names the binary (default
# target/release/ftf, built with `cargo build --release`). STAGE1_RUN=DIR skips the first stage
# and starts the second from a finished first-stage run folder; STAGE2_RUN=DIR skips the first
# two and starts the third from a finished second-stage run (STAGE1_SECONDS, STAGE2_SECONDS:
# their training times, when their state.json does not record them).
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
cd "$(dirname "$0")/.."
FTF=${FTF:-target/release/ftf}
source data-scripts/pretrain-common.sh
WORK=${1:-runs/pretrain-quick}
OUT=models/psmnet-quick-pretrained
DATA=$WORK/data

"$FTF" synth --config configs/synth-pretrain.toml --out "$DATA"
STAGE1=${STAGE1_RUN:-$WORK/run}
STAGE2=${STAGE2_RUN:-$WORK/stage2}
stage1_label=$STAGE1
if [ -n "${STAGE2_RUN:-}" ] && [ -z "${STAGE1_RUN:-}" ]; then
  stage1_label="the run $STAGE2 started from (not re-run; its history: stage1-state.json)"
fi
if [ -z "${STAGE2_RUN:-}" ]; then
  if [ -z "${STAGE1_RUN:-}" ]; then
    "$FTF" disparity train --config configs/psmnet-pretrain-quick.toml --root "$DATA" \
      --gt "$DATA/training/disparity_2" --out "$STAGE1" --device cpu --resume
  fi
  "$FTF" disparity train --config configs/psmnet-pretrain-quick-stage2.toml --init "$STAGE1" \
    --root "$DATA" --gt "$DATA/training/disparity_2" --out "$STAGE2" --device cpu --resume
fi
# The earlier stages' training histories (a shipped run folder holds stage 1's beside its own).
mkdir -p "$WORK/histories"
if [ -f "$STAGE2/checkpoints/stage1-state.json" ]; then
  cp "$STAGE2/checkpoints/stage1-state.json" "$WORK/histories/stage1-state.json"
else
  cp "$STAGE1/checkpoints/state.json" "$WORK/histories/stage1-state.json"
fi
cp "$STAGE2/checkpoints/state.json" "$WORK/histories/stage2-state.json"
stage1_seconds=${STAGE1_SECONDS:-$(epoch_seconds "$WORK/histories/stage1-state.json")}
stage2_seconds=${STAGE2_SECONDS:-$(epoch_seconds "$WORK/histories/stage2-state.json")}
"$FTF" disparity train --config configs/psmnet-pretrain-quick-half.toml --init "$STAGE2" \
  --root "$DATA" --gt "$DATA/training/disparity_2" --out "$WORK/half" --device cpu --resume
# Training time: the sum of the epochs' times of the three stages.
stage3_seconds=$(epoch_seconds "$WORK/half/checkpoints/state.json")
seconds=$((stage1_seconds + stage2_seconds + stage3_seconds))

# The weights and the run's resolved config, as a run folder `init =` accepts; the earlier
# stages' histories beside the last one's.
rm -rf "$OUT" && mkdir -p "$OUT/checkpoints"
cp "$WORK/half/config.toml" "$OUT/config.toml"
# The weights file the state names (its "checkpoint_files"), under its own name.
model=$(sed -n 's/^ *"model": "\(model-[0-9]*\.bpk\)".*/\1/p' "$WORK/half/checkpoints/state.json")
cp "$WORK/half/checkpoints/$model" "$OUT/checkpoints/$model"
cp "$WORK/half/checkpoints/state.json" "$OUT/checkpoints/state.json"
cp "$WORK/histories/stage1-state.json" "$WORK/histories/stage2-state.json" "$OUT/checkpoints/"

# Held-out frames of the pretraining set (and the four the test re-checks), and against SGM
# on the quick study's val frames.
measure_start "$OUT" "$DATA" "$WORK" 0.5 96

cat > "$OUT/provenance.json" <<EOF
{
  "what": "PSMNet of configs/psmnet-quick-half.toml pretrained on synthetic dense disparity (the paper's SceneFlow step)",
  "command": "data-scripts/pretrain-psmnet-quick.sh",
  "training_configs": ["configs/psmnet-pretrain-quick.toml", "configs/psmnet-pretrain-quick-stage2.toml", "configs/psmnet-pretrain-quick-half.toml"],
  "stage1_run": "$stage1_label",
  "stage2_run": "$STAGE2",
  "data_config": "configs/synth-pretrain.toml",
  "data_seed": $(sed -n 's/^seed = //p' configs/synth-pretrain.toml),
  "training_seconds": $seconds,
  "stage_seconds": [$stage1_seconds, $stage2_seconds, $stage3_seconds],
$(provenance_measurements "$DATA" "$WORK")
}
EOF
echo "wrote $OUT (training took ${seconds} s)"
