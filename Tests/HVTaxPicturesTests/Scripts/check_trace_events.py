#!/usr/bin/env python3
"""Validates a Chrome trace-event JSON file (the JSON Object Format of the Trace Event Format,
https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU) with a JSON
schema written from that spec: the events hvtax writes (X complete events, M metadata) with the
fields the spec requires of them. Prints 'ok N events' or the first violations; exit 1 on failure.

usage: check_trace_events.py TRACE.json
"""
import json
import sys

import jsonschema

NUMBER = {"type": "number"}
INT = {"type": "integer"}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["traceEvents"],
    "properties": {
        "traceEvents": {"type": "array", "items": {"$ref": "#/$defs/event"}},
        "displayTimeUnit": {"enum": ["ms", "ns"]},
        "otherData": {"type": "object"},
    },
    "$defs": {
        "event": {
            "type": "object",
            "required": ["ph", "pid", "name"],
            "properties": {"ph": {"type": "string", "minLength": 1, "maxLength": 1}},
            "oneOf": [{"$ref": "#/$defs/complete"}, {"$ref": "#/$defs/metadata"}],
        },
        # Complete event: ph X, ts and dur in microseconds (may be fractional), pid/tid, name, cat, args.
        "complete": {
            "type": "object",
            "required": ["ph", "pid", "tid", "ts", "dur", "name"],
            "properties": {
                "ph": {"const": "X"},
                "pid": INT, "tid": INT,
                "ts": {"type": "number", "minimum": 0},
                "dur": {"type": "number", "exclusiveMinimum": 0},
                "name": {"type": "string", "minLength": 1},
                "cat": {"enum": ["guest", "hypervisor", "vmm", "preempted", "halted", "unknown", "mixed"]},
                "args": {
                    "type": "object",
                    "required": ["state"],
                    "properties": {
                        "state": {"enum": ["guest", "hypervisor", "vmm", "preempted", "halted", "unknown", "mixed"]},
                        "reason": {"type": "string", "minLength": 1},
                        # hvtax's batched short slices: how many, and the exact ns of each state.
                        "slices": {"type": "integer", "minimum": 2},
                        "guestNs": INT, "hypervisorNs": INT, "vmmNs": INT, "preemptedNs": INT, "haltedNs": INT, "unknownNs": INT,
                    },
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        },
        # Metadata event: ph M, name one of the spec's metadata names, args carry name or sort_index.
        "metadata": {
            "type": "object",
            "required": ["ph", "pid", "name", "args"],
            "properties": {
                "ph": {"const": "M"},
                "pid": INT, "tid": INT,
                "name": {"enum": ["process_name", "process_labels", "process_sort_index", "thread_name", "thread_sort_index"]},
                "args": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "sort_index": INT, "labels": {"type": "string"}},
                    "minProperties": 1,
                    "additionalProperties": False,
                },
            },
            "if": {"properties": {"name": {"enum": ["thread_name", "thread_sort_index"]}}},
            "then": {"required": ["tid"]},
            "additionalProperties": False,
        },
    },
}


def main():
    with open(sys.argv[1], "rb") as f:
        trace = json.load(f)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = list(validator.iter_errors(trace))
    if errors:
        for error in errors[:5]:
            print("invalid:", list(error.absolute_path), error.message[:300])
        sys.exit(1)
    print("ok", len(trace["traceEvents"]), "events")


main()
