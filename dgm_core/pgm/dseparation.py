"""d-separation by the Bayes-ball reachability algorithm, and the trails that explain it.

X and Y are d-separated given Z when every trail between them is blocked: a trail is blocked
at a chain or fork node that is observed, or at a collider (a -> m <- b) that is neither
observed nor an ancestor of an observed node (Koller & Friedman 2009, Def. 3.6 and Thm 3.3).

``find_active_trail`` is Koller & Friedman's Algorithm 3.1 ("reachable", also known as
Bayes-ball, Shachter 1998) run as a breadth-first search over (node, direction) states:
the ball arrives at a node either *up* (from a child) or *down* (from a parent), and

* arriving up at an unobserved node, it may go on to the parents (up) and the children (down);
* arriving down at an unobserved node, it may go on to the children (down);
* arriving down at a node in An(Z) (Z itself included), it may bounce back up to the parents:
  the collider is opened by evidence on itself or on a descendant.

The search is linear in the size of the graph, and it stops the moment it reaches a node of
Y, so d-connected queries on large networks touch only a small part of the graph. The graph
arrives as integer adjacency lists built once when the network was validated: no acyclicity
check or set-up is repeated per query.

A breadth-first search returns a shortest active walk, and a shortest one never visits a
node twice (a second visit could always be cut short from the first), so the path it
returns is a simple active trail.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import islice

_UP, _DOWN = 0, 1  # encoded as 2 * node + direction


def reach(adjacency: list[list[int]], starts) -> set[int]:
    """All nodes reachable from ``starts`` along ``adjacency`` (the starts included)."""
    seen = set(starts)
    stack = list(seen)
    while stack:
        for w in adjacency[stack.pop()]:
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return seen


def find_active_trail(parent_ids, child_ids, xs, ys, zs, record: bool) -> list[int] | None:
    """Bayes-ball from the nodes ``xs``; returns an active trail to a node of ``ys`` or None.

    With ``record=False`` only the verdict is needed, and the trail is returned as ``[]``
    (truthy tests must use ``is None``) without keeping back-pointers.
    """
    observed = set(zs)
    targets = set(ys)
    opened = reach(parent_ids, zs)  # An(Z) with Z: colliders here let the ball bounce up
    came_from: dict[int, int] | None = {} if record else None
    visited = set()
    queue = deque()
    for x in xs:
        state = 2 * x + _UP  # the ball starts at x as if it came from a child: every edge is open
        visited.add(state)
        if came_from is not None:
            came_from[state] = -1
        queue.append(state)

    def trail_to(state: int) -> list[int]:
        path = []
        while state != -1:
            path.append(state >> 1)
            state = came_from[state]
        return path[::-1]

    while queue:
        state = queue.popleft()
        v, direction = state >> 1, state & 1
        if v in observed:
            if direction == _UP:
                continue
            moves = ((parent_ids[v], _UP),) if v in opened else ()
        elif direction == _UP:
            moves = ((parent_ids[v], _UP), (child_ids[v], _DOWN))
        else:
            moves = ((child_ids[v], _DOWN), (parent_ids[v], _UP)) if v in opened else ((child_ids[v], _DOWN),)
        for neighbours, new_direction in moves:
            for w in neighbours:
                nxt = 2 * w + new_direction
                if nxt in visited:
                    continue
                visited.add(nxt)
                if came_from is not None:
                    came_from[nxt] = state
                if w in targets:
                    return trail_to(nxt) if came_from is not None else []
                queue.append(nxt)
    return None


@dataclass(frozen=True)
class TrailStep:
    """An interior node of a trail: its role and whether it lets the trail through."""

    node: str
    role: str  # "chain", "fork" or "collider"
    blocks: bool
    reason: str


@dataclass(frozen=True)
class Trail:
    nodes: tuple[str, ...]
    arrows: tuple[str, ...]  # arrows[i] is "→" or "←" between nodes[i] and nodes[i+1]
    steps: tuple[TrailStep, ...]

    @property
    def active(self) -> bool:
        return not any(s.blocks for s in self.steps)

    @property
    def blockers(self) -> list[TrailStep]:
        return [s for s in self.steps if s.blocks]

    def __str__(self) -> str:
        out = self.nodes[0]
        for arrow, node in zip(self.arrows, self.nodes[1:]):
            out += f" {arrow} {node}"
        return out


def classify_trail(bn, nodes, given) -> Trail:
    """Say, for each interior node of a trail, whether it blocks the trail given Z, and why."""
    observed = set(given)
    observed_ancestors = bn.ancestors(observed) | observed if observed else set()
    arrows, steps = [], []
    for a, b in zip(nodes, nodes[1:]):
        if a in bn.parents[b]:
            arrows.append("→")
        elif b in bn.parents[a]:
            arrows.append("←")
        else:
            raise ValueError(f"{a} and {b} are not adjacent, so {list(nodes)} is not a trail.")
    for i in range(1, len(nodes) - 1):
        m = nodes[i]
        into_from_left = arrows[i - 1] == "→"
        into_from_right = arrows[i] == "←"
        if into_from_left and into_from_right:
            if m in observed:
                steps.append(TrailStep(m, "collider", False, f"{m} is an observed collider: it opens the trail"))
            elif m in observed_ancestors:
                seen = sorted(bn.descendants(m) & observed)
                steps.append(TrailStep(m, "collider", False,
                                       f"{m} is a collider with an observed descendant ({', '.join(seen)})"))
            else:
                steps.append(TrailStep(m, "collider", True, f"{m} is a collider with no observed descendant"))
        else:
            role = "fork" if (not into_from_left and not into_from_right) else "chain"
            if m in observed:
                steps.append(TrailStep(m, role, True, f"{m} is an observed {role} node"))
            else:
                steps.append(TrailStep(m, role, False, f"{m} is an unobserved {role} node"))
    return Trail(tuple(nodes), tuple(arrows), tuple(steps))


def explain_trails(bn, x: str, y: str, given, max_trails: int = 200) -> list[Trail]:
    """All simple trails between x and y (at most ``max_trails``), each classified given Z."""
    import networkx as nx

    skeleton = nx.Graph()
    skeleton.add_nodes_from(bn.nodes)
    skeleton.add_edges_from(bn.edges)
    paths = islice(nx.all_simple_paths(skeleton, x, y), max_trails)
    return sorted((classify_trail(bn, p, given) for p in paths), key=lambda t: (len(t.nodes), t.nodes))
