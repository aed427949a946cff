/**
 * Ports of a local run (no containers), where every service shares one address: the gateway
 * and fine-tuning have fixed ports, and the inference services take consecutive ports from the
 * first one, stepping over those two, so any number of models fits without a clash. In
 * containers each service has its own address and every inference pod listens on 8001.
 */
export const LOCAL_PORTS = { gateway: 8080, finetune: 8005, firstInference: 8001 } as const;

export function localInferencePorts(count: number, o: { first: number; taken: number[] } = { first: LOCAL_PORTS.firstInference, taken: [LOCAL_PORTS.gateway, LOCAL_PORTS.finetune] }): number[] {
  const taken = new Set(o.taken);
  const ports: number[] = [];
  for (let p = o.first; ports.length < count; p++) {
    if (p > 65535) throw new Error(`not enough ports from ${o.first} for ${count} inference services`);
    if (!taken.has(p)) ports.push(p);
  }
  return ports;
}
