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

/** Whether an output stored as run by `nodeId` is running on another node that is alive. */
export async function runsOnAnotherLiveNode(nodes: OutputNodes, nodeId: string | null | undefined): Promise<boolean> {
  if (!nodeId || nodeId === nodes.nodeId()) return false;
  try {
    return (await nodes.liveNodeIds()).includes(nodeId);
  } catch {
    return false;
  }
}
