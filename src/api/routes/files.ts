/**
 * Uploaded input files (`POST /files`, `GET /files/{file_id}`) and jobs' result files
 * (`GET /jobs/{job_id}/files`, `GET /jobs/{job_id}/files/{name}`).
 *
 * An upload is multipart/form-data, streamed through busboy straight to disk (never held in memory),
 * its SHA-256 computed on the way; a file over MAX_UPLOAD_BYTES is cut off and answered 413. The
 * global JSON-body checks and the MAX_REQUEST_BYTES limit do not apply to it (isUploadRequest in limits.ts).
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import busboy from 'busboy';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { FileTooLargeError, safeFileName, type FileStore, type PendingUpload, type StoredFile } from '../../files/fileStore.js';
import { resultDirOf } from '../../jobs/resultDir.js';
import { loadJob, type ApiUser, type AppEnv } from '../context.js';
import type { JobReadModel } from '../../projections/jobReadModel.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { json } from '../openapi.js';
import { ErrorResponse, JobIdParam } from '../schemas.js';
import { validationHook } from '../validation.js';

export interface FilesDeps {
  store: FileStore;
  /** The jobs read model: a file an active job reads cannot be deleted. */
  jobs?: JobReadModel;
  /** Jobs' result files are in `<resultsDir>/<job id>/`. */
  resultsDir: string;
}
/** Room for the multipart framing around the file when Content-Length is checked before reading. */
const MULTIPART_SLACK = 64 * 1024;

export const FileResource = z
  .object({
    file_id: z.string().openapi({ example: 'file_0b7c3f5e-1d2a-4f4e-9b1a-6c2d3e4f5a6b' }),
    name: z.string().openapi({ example: 'customers.csv' }),
    size: z.number().int().openapi({ description: 'Bytes' }),
    sha256: z.string().openapi({ description: 'Hex SHA-256 of the bytes' }),
    created_at: z.string(),
  })
  .openapi('File');

const ResultFile = z
  .object({
    name: z.string().openapi({ example: 'matches.csv' }),
    size: z.number().int().nullable().openapi({ description: 'Bytes; null when the file is gone' }),
    content_type: z.string().openapi({ example: 'text/csv; charset=utf-8' }),
    download_url: z.string().openapi({ example: '/api/v1/jobs/job_…/files/matches.csv' }),
  })
  .openapi('ResultFile');

export const ResultFiles = z.object({ job_id: z.string(), files: z.array(ResultFile) }).openapi('ResultFiles');

const FileIdParam = z.object({
  file_id: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: 'file_id', in: 'path' } }),
});
const ResultFileParam = JobIdParam.extend({
  name: z
    .string()
    .min(1)
    .max(255)
    .openapi({ param: { name: 'name', in: 'path' }, example: 'matches.csv' }),
});

const fileErrors = {
  400: json(ErrorResponse, 'Invalid request'),
  403: json(ErrorResponse, 'Not your file'),
  404: json(ErrorResponse, 'No such file'),
  409: json(ErrorResponse, 'A job that is not finished reads the file'),
};
const jobFileErrors = {
  400: json(ErrorResponse, 'Invalid request'),
  403: json(ErrorResponse, 'Not your job'),
  404: json(ErrorResponse, 'No such job or result file'),
};

const toResource = (file: StoredFile) => ({
  file_id: file.id,
  name: file.name,
  size: file.size,
  sha256: file.sha256,
  created_at: file.createdAt,
});

function loadFile(store: FileStore, user: ApiUser, fileId: string): StoredFile {
  const file = store.get(fileId);
  if (!file) throw notFound(`File not found: ${fileId}`);
  if (user.role !== 'admin' && file.owner !== user.id) throw new ApiError(403, 'Access denied to this file');
  return file;
}

const CONTENT_TYPES: Record<string, string> = {
  '.csv': 'text/csv; charset=utf-8',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};
const contentTypeOf = (name: string) => CONTENT_TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';

/** Streams one multipart upload to the store; resolves once the file is on disk and recorded. */
async function receiveUpload(request: Request, deps: FilesDeps & { maxUploadBytes: number }, owner: string): Promise<StoredFile> {
  const type = request.headers.get('content-type') ?? '';
  if (!/^multipart\/form-data\b/i.test(type))
    throw new ApiError(
      415,
      `Content-Type must be multipart/form-data with the file in field "file" (curl -F file=@data.csv …), not ${type || 'missing'}`,
    );
  const length = Number(request.headers.get('content-length') ?? NaN);
  if (length > deps.maxUploadBytes + MULTIPART_SLACK) throw new ApiError(413, new FileTooLargeError(deps.maxUploadBytes).message);
  if (!request.body) throw badRequest('file: the body is empty; send the file in multipart field "file"');
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: { 'content-type': type }, limits: { files: 1, fields: 20, fieldSize: 64 * 1024, parts: 40 } });
  } catch (error) {
    throw badRequest(`Malformed multipart body: ${(error as Error).message}`);
  }
  const source = Readable.fromWeb(request.body as unknown as NodeReadableStream);
  return new Promise<StoredFile>((resolve, reject) => {
    let pending: Promise<PendingUpload> | undefined;
    let fileStream: Readable | undefined;
    let fileName: string | undefined;
    let mimeType: string | undefined;
    const fields: Record<string, string> = {};
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      fileStream?.destroy(error);
      source.unpipe(parser);
      source.destroy();
      reject(
        error instanceof FileTooLargeError
          ? new ApiError(413, error.message)
          : error instanceof ApiError
            ? error
            : badRequest(`Malformed multipart body: ${error.message}`),
      );
    };
    parser.on('file', (field, stream, info) => {
      if (field !== 'file' || pending) {
        stream.resume(); // another part: not kept
        return;
      }
      fileStream = stream;
      fileName = info.filename;
      mimeType = info.mimeType;
      pending = deps.store.receive(owner, stream, { maxBytes: deps.maxUploadBytes });
      pending.catch(fail);
    });
    parser.on('field', (name, value) => (fields[name] = value));
    parser.on('filesLimit', () => fail(badRequest('file: one file per upload')));
    parser.on('error', (error) => fail(error as Error));
    parser.on('close', () => {
      if (settled) return;
      if (!pending) return fail(badRequest('file: no file part named "file" (curl -F file=@data.csv …)'));
      pending.then(
        (upload) => {
          if (settled) return void upload.discard();
          settled = true;
          resolve(upload.commit({ name: safeFileName(fields.name || fileName), contentType: mimeType }));
        },
        (error: Error) => fail(error),
      );
    });
    source.on('error', (error) => fail(error));
    source.pipe(parser);
  });
}

export function fileRoutes(deps: FilesDeps & { maxUploadBytes: number }) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/files',
      tags: ['files'],
      summary: 'Upload a file (multipart/form-data, field "file"; optional field "name")',
      description:
        'Streamed to disk, never held in memory; larger than MAX_UPLOAD_BYTES → 413. The file belongs to the caller; name its file_id in a job (e.g. config.file1 of a match job).',
      request: {
        body: {
          required: true,
          content: {
            // A plain schema (not zod): the body is streamed by the handler, never parsed by a validator.
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['file'],
                properties: { file: { type: 'string', format: 'binary' }, name: { type: 'string' } },
              },
            },
          },
        },
      },
      responses: {
        201: json(FileResource, 'Stored'),
        400: json(ErrorResponse, 'No file part, or a malformed multipart body'),
        413: json(ErrorResponse, 'The file is larger than MAX_UPLOAD_BYTES'),
        415: json(ErrorResponse, 'The body is not multipart/form-data'),
      },
    }),
    async (c) => c.json(toResource(await receiveUpload(c.req.raw, deps, c.get('user').id)), 201),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/files/{file_id}',
      tags: ['files'],
      summary: "An uploaded file's metadata",
      request: { params: FileIdParam },
      responses: { 200: json(FileResource, 'The file'), ...fileErrors },
    }),
    (c) => c.json(toResource(loadFile(deps.store, c.get('user'), c.req.valid('param').file_id)), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/files',
      tags: ['files'],
      summary: 'Your uploaded files, newest first',
      responses: { 200: json(z.array(FileResource), 'Files'), ...fileErrors },
    }),
    (c) => c.json(deps.store.listOf(c.get('user').id).map(toResource), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/files/{file_id}',
      tags: ['files'],
      summary: 'Delete an uploaded file (409 while a job that is not finished reads it)',
      request: { params: FileIdParam },
      responses: { 200: json(z.object({ success: z.literal(true), freed_bytes: z.number().int() }), 'Deleted'), ...fileErrors },
    }),
    (c) => {
      const file = loadFile(deps.store, c.get('user'), c.req.valid('param').file_id);
      const active = deps.jobs?.activeJobsUsingFile(file.id) ?? [];
      if (active.length > 0) throw new ApiError(409, `Job ${active[0]!.id} (${active[0]!.status}) reads this file`);
      return c.json({ success: true as const, freed_bytes: deps.store.remove(file.id) }, 200);
    },
  );

  return app;
}

/** A job's result files: the list, and each file streamed. Only names the job lists are served. */
export function jobFileRoutes(deps: FilesDeps & { readModel: JobReadModel }) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs/{job_id}/files',
      tags: ['jobs'],
      summary: "The job's result files, with download URLs",
      request: { params: JobIdParam },
      responses: { 200: json(ResultFiles, 'Result files (those of result_files)'), ...jobFileErrors },
    }),
    async (c) => {
      const row = loadJob(deps.readModel, c.get('user'), c.req.valid('param').job_id);
      const dir = resultDirOf(deps.resultsDir, row.id);
      const files = await Promise.all(
        (JSON.parse(row.result_files) as string[]).map(async (name) => ({
          name,
          size: await stat(path.join(dir, path.basename(name))).then(
            (s) => s.size,
            () => null,
          ),
          content_type: contentTypeOf(name),
          download_url: `/api/v1/jobs/${encodeURIComponent(row.id)}/files/${encodeURIComponent(name)}`,
        })),
      );
      return c.json({ job_id: row.id, files }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs/{job_id}/files/{name}',
      tags: ['jobs'],
      summary: 'Download one result file (streamed)',
      request: { params: ResultFileParam },
      responses: {
        200: {
          description: 'The file (text/csv for .csv)',
          content: { 'text/csv': { schema: { type: 'string', format: 'binary' } } },
        },
        ...jobFileErrors,
      },
    }),
    async (c) => {
      const { job_id, name } = c.req.valid('param');
      const row = loadJob(deps.readModel, c.get('user'), job_id);
      // Only a name the job lists, and never a path: nothing else in (or outside) the folder is served.
      const listed = (JSON.parse(row.result_files) as string[]).includes(name);
      if (!listed || path.basename(name) !== name || name.startsWith('.'))
        throw notFound(`No result file ${JSON.stringify(name)} for job ${row.id}`);
      const file = path.join(resultDirOf(deps.resultsDir, row.id), name);
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) throw notFound(`Result file ${name} of job ${row.id} is gone`);
      const body = Readable.toWeb(createReadStream(file)) as unknown as ReadableStream;
      return new Response(body, {
        status: 200,
        headers: {
          'content-type': contentTypeOf(name),
          'content-length': String(info.size),
          'content-disposition': `attachment; filename="${name.replace(/["\\]/g, '_')}"`,
        },
      }) as any;
    },
  );

  return app;
}
