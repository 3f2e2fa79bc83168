"""The documented JSON Schema of the output is current, and real outputs validate against it."""
import json
from pathlib import Path

import jsonschema

from service.result import json_schema
from tests.conftest import extracted, source_of

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "docs" / "result.schema.json"


def test_committed_schema_matches_the_models():
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == json_schema(), "run `make schema`"


def test_extraction_output_validates():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    for rid in ("r003", "seed"):
        data = json.loads(extracted(str(source_of(rid))).to_json())
        jsonschema.validate(data, schema)
        assert set(data) >= {"schema_version", "document", "format", "agency", "year", "cells", "checks",
                             "deviations", "sections"}
        assert set(data["document"]) >= {"path", "sha256", "kind", "pages"}
