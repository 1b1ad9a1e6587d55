// croner 4's "exports" map hides its own typings from NodeNext resolution; we use one call.
declare module 'croner' {
  interface CronJob {
    next(after?: Date): Date | null;
  }
  export default function Cron(pattern: string): CronJob;
}
