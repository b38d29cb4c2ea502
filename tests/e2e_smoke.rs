//! Proves the real-API-server tier's plumbing: kube-rs reaches the scripted kube-apiserver over
//! TLS with the generated CA and token, and the no-bindings user is refused by RBAC.

mod e2e_support;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

async fn client(server: &e2e_support::ApiServer, context: Option<&str>) -> Client {
    let kubeconfig = Kubeconfig::read_from(server.kubeconfig()).expect("the script's kubeconfig");
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("a usable kubeconfig");
    Client::try_from(config).expect("a kube client")
}

#[tokio::test]
async fn admin_lists_the_built_in_namespaces() {
    let Some(server) = e2e_support::shared_or_skip("admin_lists_the_built_in_namespaces") else {
        return;
    };
    let namespaces: Api<Namespace> = Api::all(client(server, None).await);
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap_or_else(|err| panic!("{err}\n{}", server.log_tail(20)))
        .items
        .into_iter()
        .filter_map(|ns| ns.metadata.name)
        .collect();
    for expected in ["default", "kube-system", "kube-public"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
}

#[tokio::test]
async fn user_without_bindings_is_forbidden() {
    let Some(server) = e2e_support::shared_or_skip("user_without_bindings_is_forbidden") else {
        return;
    };
    let namespaces: Api<Namespace> = Api::all(client(server, Some("meshdoctor-e2e-nobody")).await);
    match namespaces.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("expected 403 Forbidden, got {other:?}"),
    }
}
