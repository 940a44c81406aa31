export { createClusterPlugin, clusterNodeName, type ClusterPlugin } from './plugin.js';
