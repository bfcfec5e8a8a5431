#!/usr/bin/env bash
# Makes the shipped start weights of the quick study's PSMNet, models/psmnet-quick-pretrained/:
# the paper's SceneFlow step at laptop size. It generates the synthetic pretraining set
# (configs/synth-pretrain.toml: its own seed, never a study frame), trains the network in two
# stages on its dense exact disparity with the disparity loss (configs/psmnet-pretrain-quick.toml
# from the reference initialisation, then configs/psmnet-pretrain-quick-stage2.toml from those
# weights with a fresh Adam at lower rates), and writes the weights with a provenance.json: the
# command, configs, data seed, training time, the held-out metrics, the metrics of the frames the
# test re-checks (tests/pretrained.rs in crates/disparity), and a comparison with SGM on the
# quick study's val frames.
#
#   data-scripts/pretrain-psmnet-quick.sh [WORK]      (default WORK: runs/pretrain-quick)
#
# About 2 hours on a 2-core CPU (release build); FTF names the binary (default
# target/release/ftf, built with `cargo build --release`). STAGE1_RUN=DIR skips the first stage
# and starts the second from a finished first-stage run folder (STAGE1_SECONDS: its training
# time, when its state.json does not record it).
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
cd "$(dirname "$0")/.."
FTF=${FTF:-target/release/ftf}
WORK=${1:-runs/pretrain-quick}
OUT=models/psmnet-quick-pretrained
DATA=$WORK/data

"$FTF" synth --config configs/synth-pretrain.toml --out "$DATA"
epoch_seconds() { awk -F": " '/"seconds"/ {s += $2} END {printf "%.0f", s}' "$1/checkpoints/state.json"; }
STAGE1=${STAGE1_RUN:-$WORK/run}
if [ -z "${STAGE1_RUN:-}" ]; then
  "$FTF" disparity train --config configs/psmnet-pretrain-quick.toml --root "$DATA" \
    --gt "$DATA/training/disparity_2" --out "$STAGE1" --device cpu --resume
fi
stage1_seconds=${STAGE1_SECONDS:-$(epoch_seconds "$STAGE1")}
"$FTF" disparity train --config configs/psmnet-pretrain-quick-stage2.toml --init "$STAGE1" \
  --root "$DATA" --gt "$DATA/training/disparity_2" --out "$WORK/stage2" --device cpu --resume
# Training time: the sum of the epochs' times of both stages.
stage2_seconds=$(epoch_seconds "$WORK/stage2")
seconds=$((stage1_seconds + stage2_seconds))

# The weights and the run's resolved config, as a run folder `init =` accepts; the first
# stage's history beside the second's.
mkdir -p "$OUT/checkpoints"
cp "$STAGE1/checkpoints/state.json" "$WORK/stage1-state.json"
cp "$WORK/stage2/config.toml" "$OUT/config.toml"
# The weights file the state names (its "checkpoint_files"), under its own name.
model=$(sed -n 's/^ *"model": "\(model-[0-9]*\.bpk\)".*/\1/p' "$WORK/stage2/checkpoints/state.json")
cp "$WORK/stage2/checkpoints/$model" "$OUT/checkpoints/$model"
cp "$WORK/stage2/checkpoints/state.json" "$OUT/checkpoints/state.json"
cp "$WORK/stage1-state.json" "$OUT/checkpoints/stage1-state.json"

# Held-out frames of the pretraining set, and the first four of them, which the test re-checks.
head -n 4 "$DATA/ImageSets/val.txt" > "$DATA/ImageSets/check.txt"
for split in val check; do
  "$FTF" disparity predict --model trained --run "$OUT" --root "$DATA" --split "$split" \
    --out "$WORK/maps" --device cpu
  "$FTF" disparity eval --gt "$DATA/training/disparity_2" --pred "pretrained=$WORK/maps" \
    --root "$DATA" --split "$split" --json "$WORK/$split.json"
done

# Against SGM on the quick study's val frames (its [data.synthetic] settings), on the pixels
# both predict.
STUDY=$WORK/quick-study-data
printf 'frames = 145\nseed = 0\nscale = 0.5\ntrain_share = 0.31\n' > "$WORK/quick-study.toml"
"$FTF" synth --config "$WORK/quick-study.toml" --out "$STUDY"
"$FTF" disparity predict --model trained --run "$OUT" --root "$STUDY" --split val --out "$WORK/study-maps" --device cpu
"$FTF" disparity predict --model sgm --max-disparity 96 --root "$STUDY" --split val --out "$WORK/study-sgm"
"$FTF" disparity eval --gt "$STUDY/training/disparity_2" --root "$STUDY" --split val --common \
  --pred "pretrained=$WORK/study-maps" --pred "sgm=$WORK/study-sgm" --json "$WORK/study.json"

cat > "$OUT/provenance.json" <<EOF
{
  "what": "PSMNet of configs/psmnet-quick.toml pretrained on synthetic dense disparity (the paper's SceneFlow step)",
  "command": "data-scripts/pretrain-psmnet-quick.sh",
  "training_configs": ["configs/psmnet-pretrain-quick.toml", "configs/psmnet-pretrain-quick-stage2.toml"],
  "stage1_run": "$STAGE1",
  "data_config": "configs/synth-pretrain.toml",
  "data_seed": $(sed -n 's/^seed = //p' configs/synth-pretrain.toml),
  "training_seconds": $seconds,
  "stage_seconds": [$stage1_seconds, $stage2_seconds],
  "machine": "$(nproc) CPU cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)",
  "ftf_commit": "$(git describe --always --dirty 2>/dev/null || echo unknown)",
  "heldout_val": $(cat "$WORK/val.json"),
  "check_frames": $(printf '"%s",' $(cat "$DATA/ImageSets/check.txt") | sed 's/,$//; s/^/[/; s/$/]/'),
  "check_metrics": $(cat "$WORK/check.json"),
  "quick_study_val_common_pixels": $(cat "$WORK/study.json")
}
EOF
echo "wrote $OUT (training took ${seconds} s)"
