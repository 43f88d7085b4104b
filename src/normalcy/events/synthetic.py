"""Synthetic security events with known structure and planted anomalies (demo and tests).

Normal events: a department ``d`` is drawn; the ``user`` and the ``host`` both belong to
``d``; the ``action`` follows the department's habits; the ``port`` follows the action;
``bytes`` is log-normal around the action's typical size. Every user and every host is
common, but a user never touches a host of another department.

Anomalies (``kind``):

* ``"pair"``: a user and a host of different departments, each common on its own (the
  rare field *relation* APE is built for; a per-field frequency model cannot see it);
* ``"value"``: an action the user's department never performs;
* ``"size"``: ``bytes`` a thousand times its action's typical size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEPARTMENTS = 4
USERS_PER_DEPT = 10
HOSTS_PER_DEPT = 6
ACTIONS = ("login", "read", "write", "delete", "admin", "backup")
PORTS = {
    "login": ("22", "3389"),
    "read": ("445", "2049"),
    "write": ("445", "2049"),
    "delete": ("445",),
    "admin": ("22", "5985"),
    "backup": ("873",),
}
LOG_BYTES = {"login": 7.0, "read": 10.0, "write": 11.0, "delete": 6.0, "admin": 8.0, "backup": 14}
# per department: how often it performs each action (0 = never)
HABITS = np.array(
    [
        [0.3, 0.4, 0.2, 0.1, 0.0, 0.0],
        [0.3, 0.3, 0.3, 0.0, 0.1, 0.0],
        [0.2, 0.4, 0.2, 0.1, 0.0, 0.1],
        [0.4, 0.3, 0.2, 0.1, 0.0, 0.0],
    ]
)


@dataclass
class SyntheticEvents:
    train: object  # pandas DataFrame of normal events
    test: object  # pandas DataFrame, normal events then anomalies, shuffled
    labels: np.ndarray  # 1 = anomaly, per test row
    kinds: np.ndarray  # "normal", "pair", "value" or "size", per test row
    fields: list[tuple[str, ...]]  # per test row: the planted anomalous field(s), () if normal


def _normal(rng: np.random.Generator, n: int) -> dict[str, list]:
    dept = rng.integers(0, DEPARTMENTS, n)
    user = dept * USERS_PER_DEPT + rng.integers(0, USERS_PER_DEPT, n)
    host = dept * HOSTS_PER_DEPT + rng.integers(0, HOSTS_PER_DEPT, n)
    action = [ACTIONS[rng.choice(len(ACTIONS), p=HABITS[d])] for d in dept]
    port = [PORTS[a][rng.integers(0, len(PORTS[a]))] for a in action]
    size = [float(np.exp(LOG_BYTES[a] + 0.3 * rng.normal())) for a in action]
    return {
        "user": [f"u{u:03d}" for u in user],
        "host": [f"h{h:02d}" for h in host],
        "action": action,
        "port": port,
        "bytes": size,
        "_dept": list(dept),
    }


def make_events(
    n_train: int = 1000, n_test: int = 300, n_anomalies: int = 15, seed: int = 0
) -> SyntheticEvents:
    """Normal training events and a shuffled test set with ``n_anomalies`` planted ones
    (kinds cycling through pair, value, size)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    train = pd.DataFrame(_normal(rng, n_train)).drop(columns="_dept")
    n_normal = n_test - n_anomalies
    normal = _normal(rng, n_test)
    rows = pd.DataFrame(normal)
    kinds = np.array(["normal"] * n_test, dtype=object)
    fields: list[tuple[str, ...]] = [()] * n_test
    for i in range(n_anomalies):
        r = n_normal + i
        dept = int(rows.at[r, "_dept"])
        kind = ("pair", "value", "size")[i % 3]
        if kind == "pair":
            other = (dept + 1 + int(rng.integers(0, DEPARTMENTS - 1))) % DEPARTMENTS
            host = other * HOSTS_PER_DEPT + int(rng.integers(0, HOSTS_PER_DEPT))
            rows.at[r, "host"] = f"h{host:02d}"
            fields[r] = ("user", "host")
        elif kind == "value":
            never = [ACTIONS[a] for a in np.flatnonzero(HABITS[dept] == 0)]
            action = never[int(rng.integers(0, len(never)))]
            rows.at[r, "action"] = action
            rows.at[r, "port"] = PORTS[action][0]
            rows.at[r, "bytes"] = float(np.exp(LOG_BYTES[action]))
            fields[r] = ("action",)
        else:
            rows.at[r, "bytes"] = float(rows.at[r, "bytes"]) * 1000.0
            fields[r] = ("bytes",)
        kinds[r] = kind
    order = rng.permutation(n_test)
    test = rows.drop(columns="_dept").iloc[order].reset_index(drop=True)
    labels = (kinds[order] != "normal").astype(np.int64)
    return SyntheticEvents(
        train=train,
        test=test,
        labels=labels,
        kinds=kinds[order],
        fields=[fields[i] for i in order],
    )
