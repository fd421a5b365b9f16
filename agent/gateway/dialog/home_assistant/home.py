"""What the user's home holds, read from HA: areas, and the entities exposed to Assist.

Read over the shared WebSocket (HA 2024.3 has each of these commands):

* ``config/area_registry/list``: ``area_id``, ``name``, ``aliases``;
* ``config/entity_registry/get_entries`` for the exposed entities (``list``
  leaves the aliases out): ``name`` (the user's), ``original_name`` (the
  integration's), ``aliases``, ``area_id``, ``device_id``;
  ``config/device_registry/list`` gives a device's area for entities that
  take their area from their device;
* ``homeassistant/expose_entity/list``: which entities are exposed to Assist
  (``{"exposed_entities": {entity_id: {"conversation": true}}}``); only those
  are heard: HA's own conversation agent ignores the rest anyway;
* ``get_states``: the friendly name of entities without a registry entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from agent.gateway.dialog.home_assistant.connection import Connection

log = logging.getLogger(__name__)

DOMAINS = ("light", "switch", "fan", "cover", "lock", "climate", "media_player")
"""The domains whose entities get phrases (HA's common intents)."""


@dataclass(frozen=True)
class Area:
    """One area: its id and every name it answers to (name first, then aliases)."""

    id: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Entity:
    """One entity exposed to Assist."""

    id: str
    names: tuple[str, ...]
    """Its name first, then its aliases."""
    area: str | None = None

    @property
    def domain(self) -> str:
        """``light`` for ``light.kitchen_lights``."""
        return self.id.partition(".")[0]


@dataclass(frozen=True)
class Home:
    """The areas and exposed entities of one HA."""

    areas: tuple[Area, ...] = ()
    entities: tuple[Entity, ...] = ()


async def read_home(conn: Connection) -> Home:
    """Read the areas and the exposed entities of the supported domains from HA."""
    areas_raw = await conn.call({"type": "config/area_registry/list"})
    exposed_raw = await conn.call({"type": "homeassistant/expose_entity/list"})
    wanted = sorted(e for e in _exposed(exposed_raw) if e.partition(".")[0] in DOMAINS)
    # get_entries, not list: only the extended entries carry the aliases.
    entries_raw = (await conn.call({"type": "config/entity_registry/get_entries",
                                    "entity_ids": wanted})) if wanted else {}
    devices_raw = await conn.call({"type": "config/device_registry/list"})
    states_raw = await conn.call({"type": "get_states"})
    return build_home(areas_raw, entries_raw, devices_raw, exposed_raw, states_raw)


def build_home(areas_raw: Any, entries_raw: Any, devices_raw: Any, exposed_raw: Any,
               states_raw: Any) -> Home:
    """A :class:`Home` from the answers of the commands above (bad items are skipped)."""
    areas = tuple(
        Area(str(a["area_id"]), _names(a.get("name"), a.get("aliases")))
        for a in _items(areas_raw) if a.get("area_id") and a.get("name")
    )
    device_area = {d.get("id"): d.get("area_id") for d in _items(devices_raw)}
    friendly = {
        s.get("entity_id"): (s.get("attributes") or {}).get("friendly_name")
        for s in _items(states_raw)
    }
    entries = entries_raw if isinstance(entries_raw, dict) else {}
    entities: list[Entity] = []
    for entity_id in sorted(_exposed(exposed_raw)):
        if entity_id.partition(".")[0] not in DOMAINS:
            continue
        e = entries.get(entity_id)
        e = e if isinstance(e, dict) else {}  # no registry entry: the state's name alone
        if e.get("disabled_by"):
            continue
        name = e.get("name") or friendly.get(entity_id) or e.get("original_name")
        area = e.get("area_id") or device_area.get(e.get("device_id"))
        names = _names(name, e.get("aliases"))
        if names:
            entities.append(Entity(entity_id, names, area if isinstance(area, str) else None))
    return Home(areas, tuple(entities))


def _items(raw: Any) -> list[dict[str, Any]]:
    return [x for x in raw if isinstance(x, dict)] if isinstance(raw, list) else []


def _exposed(raw: Any) -> set[str]:
    table = raw.get("exposed_entities") if isinstance(raw, dict) else None
    if not isinstance(table, dict):
        return set()
    return {k for k, v in table.items() if isinstance(v, dict) and v.get("conversation") is True}


def _names(name: Any, aliases: Any) -> tuple[str, ...]:
    out = [name] if isinstance(name, str) and name.strip() else []
    if isinstance(aliases, list):
        out += sorted(a for a in aliases if isinstance(a, str) and a.strip())
    return tuple(dict.fromkeys(n.strip() for n in out))
