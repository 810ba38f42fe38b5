export { azureProvider, azureURL, AZURE_DEFAULTS, type AzureConfig } from './provider';
