"""Project secrets: PUT, DELETE and list (keys only: a value is never returned).

    GET    /api/projects/{id}/secrets         {"secrets": [{"key": ...}]}
    PUT    /api/projects/{id}/secrets/{key}   {"value": "..."} (at most 16 KiB)
    DELETE /api/projects/{id}/secrets/{key}   200 whether or not it was set

Values are encrypted (AES-GCM, the server's key) before they reach the store; the workers
decrypt them for the tasks of that project only (`${secret:KEY}`) and mask them in logs.
Keys are Digdag's: dot-separated words of letters, digits, `_` and `-`, each starting with a
letter and not ending with `_`/`-`, at most 255 characters.
"""

from __future__ import annotations

import re

from fastapi import FastAPI

from dockerflow.secrets import SecretCipher
from dockerflow.server import rest
from dockerflow.server.rest import ApiError, IdPath, live_project
from dockerflow.store.base import ProjectRecord, Store

SECRET_KEY_RE = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_-]*[a-zA-Z0-9])?(\.[a-zA-Z]([a-zA-Z0-9_-]*[a-zA-Z0-9])?)*$")
MAX_KEY = 255
MAX_VALUE = 16 * 1024


def check_key(key: str) -> str:
    if len(key) > MAX_KEY or not SECRET_KEY_RE.match(key):
        raise ApiError(400, f"Invalid secret key {key[:80]!r}: use words of letters, digits, _"
                            " and - joined by dots, each starting with a letter (at most"
                            f" {MAX_KEY} characters)")
    return key


def add_secret_routes(app: FastAPI, store: Store, cipher: SecretCipher) -> None:
    def secret(project: ProjectRecord, key: str) -> rest.RestSecret:
        return rest.RestSecret(key=key, project=rest.IdAndName(id=str(project.id), name=project.name))

    @app.get("/api/projects/{project_id}/secrets", response_model=rest.RestSecretList)
    def secrets(project_id: IdPath) -> rest.RestSecretList:
        live_project(store, project_id)
        return rest.RestSecretList(secrets=[rest.RestSecretMetadata(key=k)
                                            for k in store.secret_keys(project_id)])

    @app.put("/api/projects/{project_id}/secrets/{key}", response_model=rest.RestSecret)
    def put_secret(project_id: IdPath, key: str, body: rest.RestSetSecretRequest) -> rest.RestSecret:
        project = live_project(store, project_id)
        check_key(key)
        if len(body.value.encode("utf-8")) > MAX_VALUE:
            raise ApiError(400, f"the value of secret {key!r} is more than {MAX_VALUE // 1024} KiB")
        store.put_secret(project_id, key, cipher.encrypt(body.value))
        return secret(project, key)

    @app.delete("/api/projects/{project_id}/secrets/{key}", response_model=rest.RestSecret)
    def delete_secret(project_id: IdPath, key: str) -> rest.RestSecret:
        project = live_project(store, project_id)
        check_key(key)
        store.delete_secret(project_id, key)
        return secret(project, key)

