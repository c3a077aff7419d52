/** The in-cluster controller entry point; see src/kube/. */
export async function runController(_argv: string[]): Promise<number> {
  process.stderr.write('chartorigin: the controller is not built yet\n');
  return 1;
}
