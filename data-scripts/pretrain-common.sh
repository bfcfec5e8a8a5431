# Shared by pretrain-psmnet-quick.sh and pretrain-psmnet-quick-full.sh (sourced, not run): how a
# shipped start is timed and measured, and the measurement fields of its provenance.json. The
# sourcing script sets FTF (the binary).

# The training time of a run: the sum of its epochs' times in a state.json.
epoch_seconds() { awk -F": " '/"seconds"/ {s += $2} END {printf "%.0f", s}' "$1"; }

# measure_start OUT DATA WORK SCALE SGM_DISPARITIES: the shipped run folder OUT on the
# held-out frames of its pretraining set DATA and on the first four of them, which the test
# re-checks (WORK/val.json, WORK/check.json), and against SGM with SGM_DISPARITIES on the quick
# study's val frames at SCALE (its [data.synthetic] settings), on the pixels both predict
# (WORK/study.json).
measure_start() {
  local out=$1 data=$2 work=$3 scale=$4 sgm_disparities=$5
  head -n 4 "$data/ImageSets/val.txt" > "$data/ImageSets/check.txt"
  for split in val check; do
    "$FTF" disparity predict --model trained --run "$out" --root "$data" --split "$split" \
      --out "$work/maps" --device cpu
    "$FTF" disparity eval --gt "$data/training/disparity_2" --pred "pretrained=$work/maps" \
      --root "$data" --split "$split" --json "$work/$split.json"
  done
  local study=$work/quick-study-data
  printf 'frames = 145\nseed = 0\nscale = %s\ntrain_share = 0.31\n' "$scale" > "$work/quick-study.toml"
  "$FTF" synth --config "$work/quick-study.toml" --out "$study"
  "$FTF" disparity predict --model trained --run "$out" --root "$study" --split val --out "$work/study-maps" --device cpu
  "$FTF" disparity predict --model sgm --max-disparity "$sgm_disparities" --root "$study" --split val --out "$work/study-sgm"
  "$FTF" disparity eval --gt "$study/training/disparity_2" --root "$study" --split val --common \
    --pred "pretrained=$work/study-maps" --pred "sgm=$work/study-sgm" --json "$work/study.json"
}

# provenance_measurements DATA WORK: the provenance fields that close both files (machine,
# commit, and what measure_start wrote), as JSON lines without a trailing comma.
provenance_measurements() {
  local data=$1 work=$2
  cat <<FIELDS
  "machine": "$(nproc) CPU cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)",
  "ftf_commit": "$(git describe --always --dirty 2>/dev/null || echo unknown)",
  "heldout_val": $(cat "$work/val.json"),
  "check_frames": $(printf '"%s",' $(cat "$data/ImageSets/check.txt") | sed 's/,$//; s/^/[/; s/$/]/'),
  "check_metrics": $(cat "$work/check.json"),
  "quick_study_val_common_pixels": $(cat "$work/study.json")
FIELDS
}
