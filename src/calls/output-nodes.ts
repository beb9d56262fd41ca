/**
 * Cluster mode: HLS broadcasts and recordings run on one node (the call's owner) and are known in
 * its memory; the other nodes show them from the store, for as long as the node running them is
 * alive (a node that died leaves its rows behind, and nobody resumes them).
 */
export interface OutputNodes {
  /** This node's id (known once the node has started). */
  nodeId(): string;
  /** The ids of the nodes alive now. */
  liveNodeIds(): Promise<string[]>;
}

/**
 * Whether any of the outputs stored as run by these nodes (one id per output) runs on another node
 * that is alive. The live nodes are read once, and not at all when every output is this node's.
 */
export async function runsOnAnotherLiveNode(nodes: OutputNodes, nodeIds: readonly (string | null | undefined)[]): Promise<boolean> {
  const self = nodes.nodeId();
  const others = nodeIds.filter((id): id is string => !!id && id !== self);
  if (!others.length) return false;
  try {
    const live = await nodes.liveNodeIds();
    return others.some((id) => live.includes(id));
  } catch {
    return false;
  }
}
