/** The engine's networks: records and docker's verbs (service.ts), what the wiring plugs in (types.ts). */
export { NetworkService, DEFAULT_BRIDGE, rfc3339NanoLocal } from './service.ts';
export type { InspectOptions, NetworkEventAction, NetworkServiceOptions } from './service.ts';
export { decodeConnect, decodeCreateRequest, decodeDisconnect, decodeEndpointSettings } from './decode.ts';
export { PREDEFINED, checkBridgeName } from './validate.ts';
export type * from './types.ts';
