# Sourced by the benchmark scripts from the repository root: sets `$hvtax`, the binary measured.
# HVTAX_BIN: measure that binary instead of building this checkout (an A/B of two commits).
export PATH=/opt/swift/usr/bin:$PATH
if [ -n "${HVTAX_BIN:-}" ]; then
    hvtax=$HVTAX_BIN
else
    swift build -c release --product hvtax >/dev/null
    hvtax=$(swift build -c release --show-bin-path)/hvtax
fi
