// The agent's version: printed by `routeagent --version` and told to other agents over the control socket (hello).
export const VERSION = '0.1.0';
