#!/usr/bin/env bash
# Makes the starts of the quick study's PSMNet at full KITTI resolution: the later stages
# of its pretraining (the paper's SceneFlow step at laptop size), each on the pretraining set
# rendered at full KITTI resolution (configs/synth-pretrain-full.toml: the frames of
# synth-pretrain.toml, seed 1000, never a study frame) with its dense exact disparity.
#
#   STAGE=4 (default): models/psmnet-quick-pretrained-full/, the third stage's weights
#     (models/psmnet-quick-pretrained, made by data-scripts/pretrain-psmnet-quick.sh) in the
#     full-resolution network (configs/psmnet-pretrain-quick-full.toml; about 25 minutes).
#   STAGE=5: WORK/start, a measured try that is not shipped (see the README): the fourth
#     stage's weights trained with the pixels of labelled objects weighing 10 times the others
#     (configs/psmnet-pretrain-quick-objects.toml; about 20 minutes); `init =` takes it.
#
#   data-scripts/pretrain-psmnet-quick-full.sh [WORK]   (default WORK: runs/pretrain-quick-full,
#                                                        runs/pretrain-quick-objects for stage 5)
#
# It writes the weights with a provenance.json: the command, configs, data seed, training time,
# the held-out metrics, the metrics of the frames the test re-checks
# (crates/disparity/tests/pretrained.rs), and a comparison with SGM on the quick study's val
# frames. Times are for a 2-core CPU (release build); FTF names the binary (default
# target/release/ftf). DATA=DIR uses (or makes) the pretraining set there instead of WORK/data;
# STAGE_RUN=DIR (STAGE4_RUN for stage 4) skips the training and ships a finished run folder of
# the same config; HOW= says in the provenance how the copy was made.
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
cd "$(dirname "$0")/.."
FTF=${FTF:-target/release/ftf}
source data-scripts/pretrain-common.sh
STAGE=${STAGE:-4}
case "$STAGE" in
  4)
    START=models/psmnet-quick-pretrained
    OUT=models/psmnet-quick-pretrained-full
    CONFIG=configs/psmnet-pretrain-quick-full.toml
    WHAT="stages 1-3 at half resolution (models/psmnet-quick-pretrained), stage 4 at full resolution"
    WORK=${1:-runs/pretrain-quick-full}
    RUN_GIVEN=${STAGE_RUN:-${STAGE4_RUN:-}}
    ;;
  5)
    START=models/psmnet-quick-pretrained-full
    CONFIG=configs/psmnet-pretrain-quick-objects.toml
    WHAT="stages 1-3 at half resolution (models/psmnet-quick-pretrained), stage 4 at full resolution (models/psmnet-quick-pretrained-full), and a fifth at full resolution with the pixels of labelled objects weighing 10 times the others (object_weight; a try, not shipped)"
    WORK=${1:-runs/pretrain-quick-objects}
    OUT=$WORK/start
    RUN_GIVEN=${STAGE_RUN:-}
    ;;
  *)
    echo "STAGE=$STAGE: must be 4 or 5" >&2
    exit 2
    ;;
esac
DATA=${DATA:-$WORK/data}
RUN=${RUN_GIVEN:-$WORK/run}
mkdir -p "$WORK"

"$FTF" synth --config configs/synth-pretrain-full.toml --out "$DATA"
if [ -z "$RUN_GIVEN" ]; then
  "$FTF" disparity train --config "$CONFIG" --root "$DATA" \
    --gt "$DATA/training/disparity_2" --out "$RUN" --device cpu --resume
fi
stage_seconds=$(epoch_seconds "$RUN/checkpoints/state.json")
# The earlier stages' time, configs and command, from the start's provenance.
earlier() { python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$START/provenance.json" "$1"; }
seconds=$(($(earlier training_seconds) + stage_seconds))
earlier_configs=$(earlier training_configs | sed 's/^\[//; s/\]$//')
earlier_command=$(earlier command | sed 's/^"//; s/"$//')

# The weights and the run's resolved config, as a run folder `init =` accepts; the earlier
# stages' histories beside this one's.
rm -rf "$OUT" && mkdir -p "$OUT/checkpoints"
cp "$RUN/config.toml" "$OUT/config.toml"
model=$(sed -n 's/^ *"model": "\(model-[0-9]*\.bpk\)".*/\1/p' "$RUN/checkpoints/state.json")
cp "$RUN/checkpoints/$model" "$OUT/checkpoints/$model"
cp "$RUN/checkpoints/state.json" "$OUT/checkpoints/state.json"
cp "$START"/checkpoints/stage*-state.json "$OUT/checkpoints/"
cp "$START/checkpoints/state.json" "$OUT/checkpoints/stage$((STAGE - 1))-state.json"

# Held-out frames of the pretraining set (and the four the test re-checks), and against SGM
# on the quick study's val frames.
measure_start "$OUT" "$DATA" "$WORK" 1.0 128

cat > "$OUT/provenance.json" <<EOF
{
  "what": "PSMNet of configs/psmnet-quick.toml pretrained on synthetic dense disparity (the paper's SceneFlow step): $WHAT",
  "command": "$earlier_command, then STAGE=$STAGE data-scripts/pretrain-psmnet-quick-full.sh",
  "training_configs": [$earlier_configs, "$CONFIG"],
  "how_this_copy_was_made": "${HOW:-one run of the script}",
  "start": "$START",
  "stage${STAGE}_run": "$RUN",
  "data_config": "configs/synth-pretrain-full.toml",
  "data_seed": $(sed -n 's/^seed = //p' configs/synth-pretrain-full.toml),
  "training_seconds": $seconds,
  "stage${STAGE}_seconds": $stage_seconds,
$(provenance_measurements "$DATA" "$WORK")
}
EOF
echo "wrote $OUT (training took ${seconds} s over the $STAGE stages)"
