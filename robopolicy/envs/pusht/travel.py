"""Collision-free pusher paths around the T block, for repositioning the pusher between pushes.

The obstacle is the T outline inflated by the pusher radius plus the caller's clearance. Paths are shortest
paths in a visibility graph whose nodes are the vertices of the T inflated by a larger margin (rounded
corners). That node polygon and its internal visibility edges are fixed in the block frame, so they are
computed once; each query only transforms them and tests the edges from the start and goal points.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Point

from robopolicy.envs.pusht.geometry import t_polygon, transform_points
from robopolicy.envs.pusht.model import PUSHER_RADIUS


class TravelPlanner:
    """Shortest pusher paths that keep the pusher disk clear of a T block at a given pose."""

    def __init__(self, limit: float, clearance: float, node_clearance: float) -> None:
        """``limit``: the pusher centre must stay within +-limit on both axes (the reachable table).

        ``clearance``: the pusher's edge keeps at least this far from the block; ``node_clearance`` (larger)
        places the graph nodes round the block.
        """
        if node_clearance <= clearance:
            raise ValueError(f"node_clearance ({node_clearance}) must exceed clearance ({clearance})")
        self.limit = limit
        self.node_clearance = node_clearance
        body = t_polygon(np.zeros(3))
        nodes = np.asarray(body.buffer(PUSHER_RADIUS + node_clearance, quad_segs=2).exterior.coords)[:-1]
        obstacle = body.buffer(PUSHER_RADIUS + clearance, quad_segs=8)
        i, j = np.triu_indices(len(nodes), 1)
        visible = ~shapely.intersects(shapely.linestrings(np.stack([nodes[i], nodes[j]], axis=1)), obstacle)
        self._nodes = nodes
        self._node_dist = np.full((len(nodes), len(nodes)), np.inf)
        lengths = np.linalg.norm(nodes[i] - nodes[j], axis=1)
        self._node_dist[i[visible], j[visible]] = lengths[visible]
        self._node_dist[j[visible], i[visible]] = lengths[visible]
        self._body = body
        self._obstacle = obstacle

    def escape(self, point: np.ndarray, block_pose: np.ndarray) -> np.ndarray:
        """``point`` if it is clear of the inflated block, else the nearest clear point straight away from it."""
        local = _to_body(point[None], block_pose)[0]
        if not self._obstacle.contains(Point(local)):
            return point
        boundary = self._body.exterior
        nearest = np.asarray(boundary.interpolate(boundary.project(Point(local))).coords[0])
        away = local - nearest
        if self._body.contains(Point(local)) or np.linalg.norm(away) < 1e-9:
            away = local  # inside the block itself: leave radially from its centre of mass
        away /= np.linalg.norm(away)
        out = nearest + away * (PUSHER_RADIUS + self.node_clearance)
        return transform_points(out[None], block_pose)[0]

    def path(self, start: np.ndarray, goal: np.ndarray, block_pose: np.ndarray) -> np.ndarray:
        """Waypoints (M, 2) from ``start`` to ``goal`` (both included) around the block at ``block_pose``.

        A start inside the inflated block is first moved straight out of it. When the table edge leaves
        no clear way round, the straight segment is returned.
        """
        escaped = self.escape(start, block_pose)
        head = [start] if not np.allclose(escaped, start) else []
        a, b = _to_body(np.stack([escaped, goal]), block_pose)
        if not shapely.intersects(shapely.linestrings([a, b]), self._obstacle):
            return np.array([*head, escaped, goal])
        nodes = self._nodes
        on_table = np.all(np.abs(transform_points(nodes, block_pose)) <= self.limit, axis=1)
        n = len(nodes)
        dist = np.full((n + 2, n + 2), np.inf)
        dist[:n, :n] = np.where(on_table[:, None] & on_table[None, :], self._node_dist, np.inf)
        for k, p in ((n, a), (n + 1, b)):
            clear = ~shapely.intersects(shapely.linestrings(np.stack([np.broadcast_to(p, nodes.shape), nodes], 1)), self._obstacle)
            lengths = np.where(clear & on_table, np.linalg.norm(nodes - p, axis=1), np.inf)
            dist[k, :n] = dist[:n, k] = lengths
        route = _dijkstra(dist, n, n + 1)
        if route is None:
            return np.array([*head, escaped, goal])
        points = np.concatenate([nodes, a[None], b[None]])[route]
        return np.array([*head, *transform_points(points, block_pose)])


def _to_body(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """World points (N, 2) -> the frame of a body at ``pose``."""
    c, s = np.cos(pose[2]), np.sin(pose[2])
    return (points - pose[:2]) @ np.array([[c, -s], [s, c]])


def _dijkstra(dist: np.ndarray, source: int, target: int) -> list[int] | None:
    """Node indices of a shortest path in a dense distance matrix (inf = no edge), or None."""
    n = len(dist)
    best = np.full(n, np.inf)
    prev = np.full(n, -1)
    done = np.zeros(n, dtype=bool)
    best[source] = 0.0
    while True:
        u = int(np.argmin(np.where(done, np.inf, best)))
        if done[u] or not np.isfinite(best[u]):
            return None
        if u == target:
            break
        done[u] = True
        relaxed = best[u] + dist[u]
        better = relaxed < best
        best[better] = relaxed[better]
        prev[better] = u
    route = [target]
    while route[-1] != source:
        route.append(int(prev[route[-1]]))
    return route[::-1]

