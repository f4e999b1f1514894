"""Responses cached by (target identity, prompt, generation parameters): an unchanged suite generates nothing.

SQLite, so concurrent Dagster steps can share it. Only answers are cached;
errors are not, so a transient failure is retried on the next run.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path

from rai_pipelines.digest import sha256_json
from rai_pipelines.genai.targets import GenerationParams, Guarded, Prompt, Response, Target


class ResponseCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._run("create table if not exists responses (key text primary key, text text, completion_tokens int, "
                  "prompt_tokens int)")

    def _run(self, sql: str, params: list | None = None) -> list[tuple]:
        with closing(sqlite3.connect(self.path, timeout=60)) as db, db:
            db.execute("pragma journal_mode=wal")
            return db.execute(sql, params or []).fetchall()

    @staticmethod
    def key(target: Target, prompt: Prompt, params: GenerationParams) -> str:
        return sha256_json([target.identity, prompt.key, params.as_dict()])

    def generate(self, target: Target, prompt: Prompt, params: GenerationParams) -> Response:
        if isinstance(target, Guarded):  # the model's answer is cached once; screening it is cheap and deterministic
            return target.screen(self.generate(target.inner, prompt, params))
        key = self.key(target, prompt, params)
        found = self._run("select text, completion_tokens, prompt_tokens from responses where key = ?", [key])
        if found:
            return Response(*found[0], cached=True)
        response = target.generate(prompt, params)
        if response.error is None:
            self._run("insert or replace into responses values (?, ?, ?, ?)",
                      [key, response.text, response.completion_tokens, response.prompt_tokens])
        return replace(response, cached=False)
