/**
 * The Docker Engine API shapes of local image management (API v1.47, moby api/types/image), as
 * berthd will serve them: `GET /images/json` → ImageSummary[], `GET /images/{name}/json` →
 * ImageInspect, `GET /images/{name}/history` → HistoryItem[], `DELETE /images/{name}` →
 * DeleteItem[], `POST /images/prune` → PruneReport. Names in them are docker's familiar forms
 * (`busybox:latest`, `127.0.0.1:5000/app:1`).
 */

/** An OCI descriptor (`Descriptor` of API ≥ 1.48). */
export interface ApiDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface ImageSummary {
  /** the image ID: the config's digest */
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  /** config.created in seconds since the epoch (0 when the image does not say) */
  Created: number;
  /** bytes of the image's content (manifest, config and compressed layers) */
  Size: number;
  /** -1: not computed (as docker without `shared-size=1`) */
  SharedSize: number;
  Labels: Record<string, string>;
  /** bundles (berth's containers until berthd has its own) made from the image */
  Containers: number;
  Descriptor: ApiDescriptor;
}

/** The image config's `config` object (OCI ImageConfig / docker's container.Config subset). */
export interface ImageContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  OnBuild?: string[] | null;
  Shell?: string[];
  Healthcheck?: unknown;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  /** RFC 3339, or "" when the image does not say */
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: ImageContainerConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime?: string };
  Descriptor: ApiDescriptor;
}

export interface HistoryItem {
  /** the image ID on the newest entry, `<missing>` on the others (as docker for pulled images) */
  Id: string;
  /** seconds since the epoch */
  Created: number;
  CreatedBy: string;
  /** the image's tags on the newest entry, else null */
  Tags: string[] | null;
  /** bytes of the layer the step made (compressed, as stored); 0 for empty_layer steps */
  Size: number;
  Comment: string;
}

/** One line of `DELETE /images/{name}` (and of prune's ImagesDeleted). */
export type DeleteItem = { Untagged: string } | { Deleted: string };

export interface PruneReport {
  ImagesDeleted: DeleteItem[] | null;
  SpaceReclaimed: number;
}
