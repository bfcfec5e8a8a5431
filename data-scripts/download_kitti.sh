#!/usr/bin/env bash
# Downloads the KITTI 3D object data (left and right colour images, velodyne, calibration,
# labels) and the standard train/val split (3712 / 3769 frames), unpacks everything into the
# KITTI object layout under DEST, and checks the result with `ftf inspect`.
#
#   data-scripts/download_kitti.sh DEST
#
# About 53 GB of downloads (left and right images 12 GB each, velodyne 29 GB) and as much again
# unpacked; zips are kept in DEST/zips so a re-run only fetches what is missing.
# KITTI's licence (CC BY-NC-SA 3.0) applies; register on the KITTI site before downloading.
set -euo pipefail

if [ $# -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
DEST=$1
KITTI_BASE=${KITTI_BASE:-https://s3.eu-central-1.amazonaws.com/avg-kitti}
SPLIT_BASE=${SPLIT_BASE:-https://raw.githubusercontent.com/open-mmlab/OpenPCDet/master/data/kitti/ImageSets}
PARTS="data_object_calib data_object_label_2 data_object_image_2 data_object_image_3 data_object_velodyne"

for tool in curl unzip; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed" >&2; exit 1; }
done
mkdir -p "$DEST/zips" "$DEST/ImageSets"

for part in $PARTS; do
  zip="$DEST/zips/$part.zip"
  if [ ! -f "$zip" ]; then
    echo "downloading $part.zip"
    # Resumable: a partial download continues where it stopped; renamed only when complete.
    curl -fL --retry 5 -C - -o "$zip.part" "$KITTI_BASE/$part.zip"
    mv "$zip.part" "$zip"
  fi
  echo "unpacking $part.zip"
  unzip -q -n "$zip" -d "$DEST"
done

for split in train val test; do
  curl -fsSL --retry 5 -o "$DEST/ImageSets/$split.txt.part" "$SPLIT_BASE/$split.txt"
  mv "$DEST/ImageSets/$split.txt.part" "$DEST/ImageSets/$split.txt"
done
cat "$DEST/ImageSets/train.txt" "$DEST/ImageSets/val.txt" | sort > "$DEST/ImageSets/trainval.txt"

expect() {
  local file=$1 want=$2 got
  got=$(grep -c . "$file")
  if [ "$got" != "$want" ]; then
    echo "error: $file has $got frames, expected $want" >&2
    exit 1
  fi
}
expect "$DEST/ImageSets/train.txt" 3712
expect "$DEST/ImageSets/val.txt" 3769
expect "$DEST/ImageSets/test.txt" 7518

if command -v ftf >/dev/null; then
  FTF=(ftf)
else
  FTF=(cargo run --release --manifest-path "$(dirname "$0")/../Cargo.toml" --)
fi
"${FTF[@]}" inspect "$DEST" --out "$DEST/inspect"
