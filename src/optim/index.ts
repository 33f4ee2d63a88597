export * from './optimizer';
export * from './schedule';
