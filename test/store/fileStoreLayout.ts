import { join } from 'node:path';
import { fileNameForTaskId } from '../../src/store/taskIdFileName.js';

/** The file of one stored generation of a task in a FileTaskStore (each save or delete writes the next one). */
export function documentFile(storeDir: string, taskId: string, generation: number): string {
  return join(storeDir, 'tasks', fileNameForTaskId(taskId), 'g', String(generation), 'doc.json');
}
