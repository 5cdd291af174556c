/**
 * The client API. Its types are defined in src/core/file-system.ts, below the worker that
 * implements them; front ends and applications import them from here.
 */
export * from '../core/file-system.js';
export { checkListPage, listPages } from '../core/list-pages.js';
