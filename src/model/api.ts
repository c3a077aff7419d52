/** The product's API group and version (product.md), for every stage that names its resources. */
export const GROUP = 'chartorigin.io';
export const VERSION = 'v1alpha1';
