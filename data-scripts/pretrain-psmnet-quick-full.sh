#!/usr/bin/env bash
# Makes the shipped start of the quick study's PSMNet, models/psmnet-quick-pretrained-full/: the
# fourth stage of its pretraining (the paper's SceneFlow step at laptop size). It renders the
# pretraining set at full KITTI resolution (configs/synth-pretrain-full.toml: the frames of
# synth-pretrain.toml, seed 1000, never a study frame), trains the third stage's weights
# (models/psmnet-quick-pretrained, made by data-scripts/pretrain-psmnet-quick.sh) in the
# full-resolution network on their dense exact disparity (configs/psmnet-pretrain-quick-full.toml),
# and writes the weights with a provenance.json: the command, configs, data seed, training time,
# the held-out metrics, the metrics of the frames the test re-checks
# (crates/disparity/tests/pretrained.rs), and a comparison with SGM on the quick study's val
# frames.
#
#   data-scripts/pretrain-psmnet-quick-full.sh [WORK]   (default WORK: runs/pretrain-quick-full)
#
# About 25 minutes of training on a 2-core CPU (release build); FTF names the binary (default
# target/release/ftf). DATA=DIR uses (or makes) the pretraining set there instead of WORK/data;
# STAGE4_RUN=DIR skips the training and ships a finished run folder of the same config.
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
cd "$(dirname "$0")/.."
FTF=${FTF:-target/release/ftf}
source data-scripts/pretrain-common.sh
WORK=${1:-runs/pretrain-quick-full}
OUT=models/psmnet-quick-pretrained-full
START=models/psmnet-quick-pretrained
DATA=${DATA:-$WORK/data}
RUN=${STAGE4_RUN:-$WORK/run}
mkdir -p "$WORK"

"$FTF" synth --config configs/synth-pretrain-full.toml --out "$DATA"
if [ -z "${STAGE4_RUN:-}" ]; then
  "$FTF" disparity train --config configs/psmnet-pretrain-quick-full.toml --root "$DATA" \
    --gt "$DATA/training/disparity_2" --out "$RUN" --device cpu --resume
fi
stage4_seconds=$(epoch_seconds "$RUN/checkpoints/state.json")
earlier_seconds=$(sed -n 's/^ *"training_seconds": \([0-9]*\).*/\1/p' "$START/provenance.json")
seconds=$((earlier_seconds + stage4_seconds))

# The weights and the run's resolved config, as a run folder `init =` accepts; the earlier
# stages' histories beside this one's.
rm -rf "$OUT" && mkdir -p "$OUT/checkpoints"
cp "$RUN/config.toml" "$OUT/config.toml"
model=$(sed -n 's/^ *"model": "\(model-[0-9]*\.bpk\)".*/\1/p' "$RUN/checkpoints/state.json")
cp "$RUN/checkpoints/$model" "$OUT/checkpoints/$model"
cp "$RUN/checkpoints/state.json" "$OUT/checkpoints/state.json"
cp "$START/checkpoints/stage1-state.json" "$START/checkpoints/stage2-state.json" "$OUT/checkpoints/"
cp "$START/checkpoints/state.json" "$OUT/checkpoints/stage3-state.json"

# Held-out frames of the pretraining set (and the four the test re-checks), and against SGM
# on the quick study's val frames.
measure_start "$OUT" "$DATA" "$WORK" 1.0 128

cat > "$OUT/provenance.json" <<EOF
{
  "what": "PSMNet of configs/psmnet-quick.toml pretrained on synthetic dense disparity (the paper's SceneFlow step): stages 1-3 at half resolution (models/psmnet-quick-pretrained), stage 4 at full resolution",
  "command": "data-scripts/pretrain-psmnet-quick.sh, then data-scripts/pretrain-psmnet-quick-full.sh",
  "training_configs": ["configs/psmnet-pretrain-quick.toml", "configs/psmnet-pretrain-quick-stage2.toml", "configs/psmnet-pretrain-quick-half.toml", "configs/psmnet-pretrain-quick-full.toml"],
  "how_this_copy_was_made": "${HOW:-one run of the script}",
  "start": "$START",
  "stage4_run": "$RUN",
  "data_config": "configs/synth-pretrain-full.toml",
  "data_seed": $(sed -n 's/^seed = //p' configs/synth-pretrain-full.toml),
  "training_seconds": $seconds,
  "stage4_seconds": $stage4_seconds,
$(provenance_measurements "$DATA" "$WORK")
}
EOF
echo "wrote $OUT (training took ${seconds} s over the four stages)"
