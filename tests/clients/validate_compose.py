"""Validates a Compose file against the Compose Specification's JSON schema.

Usage: validate_compose.py SCHEMA FILE. Each error goes to stderr with its path (exit 1);
on success the document, anchors and merge keys resolved, goes to stdout as JSON.
"""
import json
import sys

import jsonschema
import yaml

schema = json.load(open(sys.argv[1]))
document = yaml.safe_load(open(sys.argv[2]))
validator = jsonschema.Draft201909Validator(schema)
errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
for e in errors:
    print("/".join(str(p) for p in e.path) or "(top)", e.message, file=sys.stderr)
if errors:
    sys.exit(1)
json.dump(document, sys.stdout)
