import { auditArchive } from './audit-archive';
import { hardCap, lifetimeMatrix, logGroups } from './audit-lifetime';
import { agentNetwork, taskDefinitions } from './compute';
import {
  agentsCannotLaunch,
  credentialsAdministrator,
  credentialsMatrix,
  credentialsOwnResources,
  launcher,
  secrets,
  taskConfiguration,
  userKeys,
} from './credentials';
import {
  outboundMatrix,
  outboundPolicy,
  perAgentScope,
  rowsMatrix,
  rowsOwnResources,
  scopeMatrix,
  scopeOwnResources,
  tables,
} from './data';
import { distributions, publicSurface } from './edge';
import { apiAuthorizers, identityAdministrator, taskRoles } from './identity';
import { starResources, wildcardActions } from './least-privilege';
import { modelInvoker } from './model-invoker';
import { invokeRoles, noLongLivedKeys, oidcTrust } from './pipeline';
import { retained } from './retention';
import { accessPoints, fileSystems, storageAdministrator, storageMatrix, storageOwnResources } from './storage';
import { Check } from './types';
import { workbenchIdentity } from './workbench';

/**
 * Every check the review runs, in report order. Adding a check is one entry here (and its claim number);
 * a check reads only the ReviewContext, so it can never depend on a config file.
 */
export const CHECKS: readonly Check[] = [
  taskDefinitions,
  agentNetwork,
  accessPoints,
  fileSystems,
  storageMatrix,
  storageOwnResources,
  storageAdministrator,
  userKeys,
  secrets,
  taskConfiguration,
  credentialsMatrix,
  credentialsOwnResources,
  credentialsAdministrator,
  agentsCannotLaunch,
  launcher,
  taskRoles,
  workbenchIdentity,
  modelInvoker,
  apiAuthorizers,
  identityAdministrator,
  tables,
  rowsMatrix,
  rowsOwnResources,
  perAgentScope,
  scopeMatrix,
  scopeOwnResources,
  outboundPolicy,
  outboundMatrix,
  logGroups,
  auditArchive,
  hardCap,
  lifetimeMatrix,
  distributions,
  publicSurface,
  oidcTrust,
  noLongLivedKeys,
  invokeRoles,
  retained,
  wildcardActions,
  starResources,
];
