"""Graph attention blocks of AASIST (Jung et al., ICASSP 2022): homogeneous and heterogeneous graph
attention layers and top-k graph pooling. Graphs are dense: a node set is a tensor `(batch, nodes, dim)`
and every node attends to every node.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _xavier_vector(dim: int) -> nn.Parameter:
    """A `(dim, 1)` attention weight vector, Xavier-normal initialised."""
    weight = torch.empty(dim, 1)
    nn.init.xavier_normal_(weight)
    return nn.Parameter(weight)


def _node_batch_norm(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """Batch-normalise node features, treating every node of every example as one sample."""
    return bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


class GraphAttention(nn.Module):
    """Graph attention over one node type: `(batch, nodes, in_dim)` -> `(batch, nodes, out_dim)`.

    The edge score between nodes i and j is `w . tanh(W (x_i * x_j)) / temperature`, normalised over j;
    each node's output is a projection of its attended neighbourhood plus a projection of itself.
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0, dropout: float = 0.2) -> None:
        super().__init__()
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_weight = _xavier_vector(out_dim)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(dropout)
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_drop(x)  # (batch, nodes, in_dim)
        pairs = x.unsqueeze(2) * x.unsqueeze(1)  # (batch, nodes, nodes, in_dim)
        scores = torch.tanh(self.att_proj(pairs)) @ self.att_weight  # (batch, nodes, nodes, 1)
        attention = F.softmax(scores.squeeze(-1) / self.temperature, dim=-1)  # normalised over j
        out = self.proj_with_att(attention @ x) + self.proj_without_att(x)  # (batch, nodes, out_dim)
        return F.selu(_node_batch_norm(self.bn, out))


class HeteroGraphAttention(nn.Module):
    """Heterogeneous graph attention over two node types plus a master node (AASIST's HS-GAL).

    Both node sets are projected into one space and joined into a graph; edges inside type 1, inside
    type 2 and across types each get their own attention vector. A master node attends to all nodes and
    is updated alongside them. Returns the updated `(nodes1, nodes2, master)`.
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0, dropout: float = 0.2) -> None:
        super().__init__()
        self.proj_type1 = nn.Linear(in_dim, in_dim)
        self.proj_type2 = nn.Linear(in_dim, in_dim)
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_proj_master = nn.Linear(in_dim, out_dim)
        self.att_weight11 = _xavier_vector(out_dim)
        self.att_weight22 = _xavier_vector(out_dim)
        self.att_weight12 = _xavier_vector(out_dim)  # shared by both cross-type directions
        self.att_weight_master = _xavier_vector(out_dim)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.proj_with_att_master = nn.Linear(in_dim, out_dim)
        self.proj_without_att_master = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(dropout)
        self.temperature = temperature

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, master: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        num1 = x1.shape[1]
        x = torch.cat([self.proj_type1(x1), self.proj_type2(x2)], dim=1)  # (batch, nodes, in_dim)
        if master is None:
            master = x.mean(dim=1, keepdim=True)
        x = self.input_drop(x)

        # Node-to-node attention with one score vector per edge type.
        hidden = torch.tanh(self.att_proj(x.unsqueeze(2) * x.unsqueeze(1)))  # (batch, nodes, nodes, out)
        weights = torch.cat([self.att_weight11, self.att_weight22, self.att_weight12], dim=1)  # (out, 3)
        per_type = hidden @ weights  # (batch, nodes, nodes, 3): scores under each edge type's vector
        is_type1 = torch.arange(x.shape[1], device=x.device) < num1
        edge_type = torch.full((x.shape[1], x.shape[1]), 2, dtype=torch.long, device=x.device)
        edge_type[is_type1[:, None] & is_type1[None, :]] = 0
        edge_type[~is_type1[:, None] & ~is_type1[None, :]] = 1
        index = edge_type.expand(x.shape[0], -1, -1).unsqueeze(-1)
        scores = per_type.gather(-1, index).squeeze(-1)  # (batch, nodes, nodes)
        attention = F.softmax(scores / self.temperature, dim=-1)

        # Master node: attends to every node; uses the input (pre-update) node features.
        master_scores = torch.tanh(self.att_proj_master(x * master)) @ self.att_weight_master  # (b, n, 1)
        master_attention = F.softmax(master_scores / self.temperature, dim=1)  # over nodes
        master = self.proj_with_att_master(
            master_attention.transpose(1, 2) @ x
        ) + self.proj_without_att_master(master)  # (batch, 1, out)

        out = self.proj_with_att(attention @ x) + self.proj_without_att(x)
        out = F.selu(_node_batch_norm(self.bn, out))  # (batch, nodes, out)
        return out[:, :num1], out[:, num1:], master


class GraphPool(nn.Module):
    """Keep the top `ratio` fraction of nodes by a learned sigmoid score, gated by that score."""

    def __init__(self, ratio: float, in_dim: int, dropout: float = 0.3) -> None:
        super().__init__()
        self.ratio = ratio
        self.proj = nn.Linear(in_dim, 1)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        scores = torch.sigmoid(self.proj(self.drop(h)))  # (batch, nodes, 1)
        keep = max(int(h.shape[1] * self.ratio), 1)
        index = scores.topk(keep, dim=1).indices.expand(-1, -1, h.shape[-1])  # (batch, keep, dim)
        return (h * scores).gather(1, index)  # (batch, keep, dim)


__all__ = ["GraphAttention", "GraphPool", "HeteroGraphAttention"]
